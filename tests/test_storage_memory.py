"""Memory stays bounded whatever the object size: a 200 MB stream must not grow a process by > 64 MB.

Each measurement runs in a fresh interpreter (this module's ``main``) so nothing else in the test session
skews its peak RSS. Run by hand: ``python -m tests.test_storage_memory s3 <endpoint> <bucket> <dir>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.s3 import MotoS3

MiB = 1024 * 1024
OBJECT_BYTES = 200 * MiB
RSS_GROWTH_LIMIT_BYTES = 64 * MiB
REPO = Path(__file__).resolve().parents[1]


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path("/proc/self/clear_refs").write_text("5")


async def _generated(total: int, chunk_bytes: int = 64 * 1024) -> AsyncIterator[bytes]:
    block = os.urandom(MiB)
    sent = 0
    while sent < total:
        offset = sent % MiB
        piece = block[offset : offset + min(chunk_bytes, total - sent)]
        sent += len(piece)
        yield piece


async def _measure(backend: str, endpoint: str, bucket: str, data_dir: str) -> dict[str, int]:
    from storage import build_storage

    moto = MotoS3(endpoint)
    settings = moto.settings(bucket, Path(data_dir), storage_backend=backend)  # default part size
    storage = build_storage(settings)
    # Warm up: connection pool, threads, imports, allocator arenas.
    await storage.put_stream("warmup.bin", _generated(40 * MiB), "application/octet-stream")
    _reset_peak_rss()
    baseline = _status_bytes("VmRSS")
    stored = await storage.put_stream("videos/big.mp4", _generated(OBJECT_BYTES), "video/mp4")
    peak = _status_bytes("VmHWM")
    await storage.aclose()
    return {"baseline": baseline, "peak": peak, "growth": peak - baseline, "size": stored.size_bytes}


def measure_in_subprocess(backend: str, moto: MotoS3, bucket: str, data_dir: Path) -> dict[str, int]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.test_storage_memory",
            backend,
            moto.endpoint_url,
            bucket,
            str(data_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    measured: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_streaming_200_mb_grows_rss_by_at_most_64_mb(
    backend: str, moto_s3: MotoS3, s3_bucket: str, tmp_path: Path
) -> None:
    measured = measure_in_subprocess(backend, moto_s3, s3_bucket, tmp_path)
    print(
        f"{backend}: peak RSS growth {measured['growth'] / MiB:.1f} MiB for {measured['size'] / MiB:.0f} MiB"
    )

    assert measured["size"] == OBJECT_BYTES
    assert measured["growth"] <= RSS_GROWTH_LIMIT_BYTES


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_measure(*sys.argv[1:5]))))
