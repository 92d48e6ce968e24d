"""How the benchmarks measure: latency percentiles, a closed-loop load driver, and a process's CPU and RSS.

Every comparison interleaves ours and the baseline in rounds (``interleaved``), so background load and
the Temporal server's growing database hit both alike instead of whichever happened to run second.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


@dataclass(frozen=True)
class Latency:
    """Percentiles of a set of request latencies, in seconds."""

    p50: float
    p99: float
    count: int

    @classmethod
    def of(cls, samples: list[float]) -> Latency:
        if len(samples) < 2:
            only = samples[0] if samples else float("nan")
            return cls(only, only, len(samples))
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(cuts[49], cuts[98], len(samples))

    def ms(self) -> str:
        return f"{self.p50 * 1000:.1f} / {self.p99 * 1000:.1f} ms"


async def drive(call: Callable[[int], Awaitable[object]], *, requests: int, concurrency: int) -> list[float]:
    """Run ``call(i)`` for i in range(requests) with ``concurrency`` callers in a closed loop; the latency of
    each call in seconds. A failing call fails the measurement (a benchmark of errors measures nothing)."""
    latencies: list[float] = []
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < requests:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            await call(index)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return latencies


async def interleaved(
    contenders: Mapping[str, Callable[[int], Awaitable[list[float]]]], rounds: int
) -> dict[str, list[float]]:
    """Run each contender ``rounds`` times (``contender(round)`` returns its samples of that round), rotating
    who goes first each round; every contender's samples, pooled."""
    pooled: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            pooled[name] += await contenders[name](round_number)
    return pooled


@dataclass(frozen=True)
class ProcessSample:
    cpu_seconds: float  # user + system, since the process started
    rss_bytes: int
    at: float  # time.monotonic()


def sample_process(pid: int) -> ProcessSample:
    """CPU time and resident memory of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime 14 and stime 15 (1-based, see proc(5)).
    cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return ProcessSample(cpu, status_bytes(pid, "VmRSS"), time.monotonic())


def status_bytes(pid: int | str, field: str) -> int:
    """A memory figure of /proc/<pid>/status (``VmRSS``, ``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def cores_used(first: ProcessSample, last: ProcessSample) -> float:
    """Average CPU use between two samples, in cores (1.0 = one core busy all the time)."""
    return (last.cpu_seconds - first.cpu_seconds) / max(last.at - first.at, 1e-9)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.2, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        await asyncio.sleep(interval)
