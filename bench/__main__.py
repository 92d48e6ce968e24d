"""``python -m bench [--quick] [--markdown FILE] {all | measure ...}``: run benchmarks, print one table.

Each measure starts what it needs (see ``bench/services.py``) under one temporary folder and stops it
again; ``all`` runs every measure in the order below. ``--quick`` shrinks sample counts and sizes so the
whole path runs in well under a minute (a smoke test, not numbers to publish).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import (
    accounts_cost,
    api_latency,
    handoff,
    history_cost,
    inflight,
    rate_limit_cost,
    rehost_throughput,
    render_speed,
    throughput,
)
from bench.report import Row, machine_description, markdown_table
from bench.services import BenchRun

Measure = Callable[[BenchRun], Awaitable[list[Row]]]

MEASURES: dict[str, Measure] = {
    "generate": api_latency.generate_rows,
    "status": api_latency.status_rows,
    "accounts": accounts_cost.accounts_rows,
    "ratelimits": rate_limit_cost.rate_limit_rows,
    "ratecount": rate_limit_cost.count_cost_rows,
    "history": history_cost.history_rows,
    "handoff": handoff.handoff_rows,
    "throughput": throughput.throughput_rows,
    "inflight": inflight.inflight_rows,
    "rehost": rehost_throughput.rehost_rows,
    "render": render_speed.render_rows,
}


async def run_measures(names: list[str], run: BenchRun) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        started = time.monotonic()
        print(f"· {name} …", file=sys.stderr, flush=True)
        rows += await MEASURES[name](run)
        print(f"  {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("measures", nargs="*", default=["all"], choices=["all", *MEASURES], metavar="MEASURE")
    parser.add_argument("--quick", action="store_true", help="small samples: a smoke run, not for publishing")
    parser.add_argument(
        "--burst", type=int, help="jobs in the throughput measure's burst (default 500; 20 with --quick)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table (and machine) to this file")
    args = parser.parse_args()
    names = list(MEASURES) if "all" in args.measures else list(dict.fromkeys(args.measures))

    before = machine_description()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="infrai-bench-") as tmp:
        burst = args.burst or (20 if args.quick else 500)
        run = BenchRun(Path(tmp), quick=args.quick, burst=burst)
        try:
            rows = asyncio.run(run_measures(names, run))
        finally:
            run.close()
    took = time.monotonic() - started
    lines = [
        markdown_table(rows),
        "",
        f"Machine at start: {before}",
        f"Machine at end:   {machine_description()}",
        f"Run took {took:.0f} s." + (" --quick: a smoke run, not numbers to publish." if args.quick else ""),
    ]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")


if __name__ == "__main__":
    main()
