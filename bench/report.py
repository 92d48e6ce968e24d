"""The one table every benchmark adds its rows to, and the description of the machine it ran on."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One line of the table: what we measured, beside its baseline from the same run where it has one."""

    measure: str
    ours: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None  # None: informational, no target
    note: str = ""  # detail printed under the table

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "**no**", None: "—"}[self.met]


def ratio_text(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}x" if baseline > 0 else "—"


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| measure | ours | baseline (same run, same server) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row.measure} | {row.ours} | {row.baseline} | {row.ratio} | {row.target} | {row.verdict} |"
        for row in rows
    ]
    notes = [f"- {row.measure}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, "", *notes] if notes else lines)


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


def machine_description() -> str:
    """nproc, CPU model, RAM and the load average right now: what the numbers in a table depend on."""
    cpu_model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    one, five, fifteen = load_average()
    return (
        f"{os.cpu_count()} CPUs ({cpu_model}), {mem_kib / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"
    )
