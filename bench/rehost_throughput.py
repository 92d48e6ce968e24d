"""Rows for the rehost of a 1 GB video (the transfers themselves: ``bench/rehost_transfer.py``).

Each contender meets the same memory, measured twice. On these VMs the guest hands the memory it frees
back to the host (free page reporting, in 8 MiB blocks, about two seconds after the free), and memory
handed back costs a host fault when it is next touched: writing 1 GiB into the page cache cost 0.2 s of
system CPU right after the previous gigabyte was deleted, and 0.9-1.1 s five seconds later. Which
contender met warm memory and which cold used to be the luck of the schedule: the same raw copy measured
from about 300 to 1,000 MB/s (``docs/performance.md``). Now every transfer of the **cold** rows starts
``SETTLE_SECONDS`` after the last one, and every transfer of the **warm** rows right after a warm-up of
its own size whose output it deletes first (``bench/rehost_transfer.py``). Three rounds each, for a
median one odd transfer cannot move.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.media import write_padded_mp4
from bench.rehost_transfer import measure
from bench.report import Row, ratio_text
from bench.sampling import MiB
from bench.services import BenchRun
from devstack.processes import ManagedProcess, wait_for_port
from tests.fixtures.ports import free_port

THROUGHPUT_TARGET = 0.9
RSS_GROWTH_LIMIT = 64 * MiB
# Longer than the kernel's free page reporting delay (2 s) with room to finish reporting a gigabyte.
SETTLE_SECONDS = 5.0


@contextmanager
def http_source(folder: Path) -> Iterator[str]:
    """``python -m http.server`` over ``folder``: the vendor's CDN, as far as rehost can tell."""
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)]
    server = ManagedProcess("http source", argv, log_path=folder.parent / "http-source.log").start()
    try:
        wait_for_port("127.0.0.1", port, 30, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop(timeout=10)


def _rate(result: dict[str, Any]) -> float:
    return float(result["bytes"]) / MiB / float(result["seconds"])


def _cpu_per_gib(result: dict[str, Any]) -> float:
    """CPU seconds the transferring process spent per GiB: what a busy machine's throughput follows."""
    return float(result["cpu"]) / (float(result["bytes"]) / (1024 * MiB))


def _median_cpu(results: list[dict[str, Any]]) -> float:
    return statistics.median(_cpu_per_gib(result) for result in results)


Results = dict[str, list[dict[str, Any]]]


async def _transfers(run: BenchRun, backend: str, memory: str, url: str, warmup_url: str) -> Results:
    """Every contender's transfers into ``backend``: three rounds (one when quick), alternating order."""
    results: Results = {"ours": [], "raw": [], "raw+sha256": []}
    for round_number in range(1 if run.quick else 3):
        order = ("ours", "raw", "raw+sha256")
        for who in order if round_number % 2 == 0 else order[::-1]:
            bucket = run.moto.new_bucket()
            folder = run.folder(f"rehost-{who.replace('+', '-')}-{backend}")
            if memory == "cold" and not run.quick:
                await asyncio.sleep(SETTLE_SECONDS)
            result = await asyncio.to_thread(
                measure, who, backend, url, warmup_url, run.moto, bucket, folder, memory
            )
            results[who].append(result)
    return results


def _row(size: int, backend: str, memory: str, results: Results, settled: bool) -> Row:
    ours = statistics.median(_rate(r) for r in results["ours"])
    raw = statistics.median(_rate(r) for r in results["raw"])
    hashed = statistics.median(_rate(r) for r in results["raw+sha256"])
    growth = max(int(r["growth"]) for r in results["ours"])
    where = "S3 (moto server)" if backend == "s3" else "local files"
    raw_name = "raw boto3 `upload_fileobj`" if backend == "s3" else "raw copy to a file"
    how = "each right after a warm-up of the same size, into the memory its delete freed"
    if memory == "cold":
        how = f"each {SETTLE_SECONDS:.0f} s after the last, into cold memory" if settled else "not settled"
    return Row(
        measure=f"rehost of a {size // MiB:,} MB video from HTTP into {where}, {memory} memory",
        ours=f"{ours:.0f} MB/s, peak RSS growth {growth / MiB:.0f} MB",
        baseline=f"{raw_name}: {raw:.0f} MB/s",
        ratio=ratio_text(ours, raw),
        target=f"≥ {THROUGHPUT_TARGET}x throughput, RSS growth ≤ 64 MB",
        met=ours >= THROUGHPUT_TARGET * raw and growth <= RSS_GROWTH_LIMIT,
        note=(
            f"median of {len(results['ours'])} transfer(s) each, alternating, {how} (see the module's "
            f"docstring); raw peak RSS growth {max(int(r['growth']) for r in results['raw']) / MiB:.0f} "
            f"MB; CPU of the transferring process {_median_cpu(results['ours']):.2f} s/GiB (raw "
            f"{_median_cpu(results['raw']):.2f}); the raw tool with a sha256 of every byte, as ours "
            f"records: {hashed:.0f} MB/s, CPU {_median_cpu(results['raw+sha256']):.2f} s/GiB (ours "
            f"{ours / hashed:.2f}x that)"
        ),
    )


async def rehost_rows(run: BenchRun) -> list[Row]:
    size = 64 * MiB if run.quick else 1024 * MiB
    media = run.folder("rehost-source")
    write_padded_mp4(media / "video.mp4", size)
    write_padded_mp4(media / "warmup.mp4", 32 * MiB)
    rows: list[Row] = []
    with http_source(media) as base:
        url, warmup_url = f"{base}/video.mp4", f"{base}/warmup.mp4"
        for backend in ("s3", "local"):
            for memory in ("cold", "warm"):
                results = await _transfers(run, backend, memory, url, warmup_url)
                rows.append(_row(size, backend, memory, results, settled=not run.quick))
    return rows
