"""Rehost of a big video from an HTTP source into S3 (moto) and into local files, beside the raw tools.

Each transfer runs in a fresh interpreter (``python -m bench.rehost_transfer ...``), which prints one
JSON line: seconds, bytes, and the peak resident-memory growth during the transfer, measured from after a
warm-up transfer (imports, thread pools, connections) with the kernel's high-water mark reset (Linux
``clear_refs``). The source is a plain ``python -m http.server`` over a real MP4 padded with a trailing
``free`` box to the wanted size, so it stays a playable video for rehost's probe.

- ours, S3: the ``rehost_video`` activity itself (``RehostActivities`` as the worker builds it, run in
  Temporal's ``ActivityEnvironment``): HTTP download stream → pipelined multipart upload with sha256, then
  the probe over ranged reads and the thumbnail.
- raw, S3: boto3 ``upload_fileobj`` of the same HTTP response (its transfer manager with its defaults:
  10 threads, 8 MiB parts, the same part size as ours).
- ours, local files: the same activity with the local backend (write, fsync, rename, probe, thumbnail).
- raw, local files: the HTTP response copied to a file in 1 MiB blocks, then fsync. Durability is the
  same as ours (the data fsynced; ours also fsyncs a small sidecar and the folder, and renames).
- raw+sha256: either raw tool with a sha256 of every byte read (hashlib, in the reading thread): ours
  must record the object's sha256, the raw tools do not; shown beside the target's baseline, not
  instead of it.

Memory: ``cold``, the warm-up is the small video and stays stored, so the measured transfer writes into
memory the kernel has to find (on these VMs, memory the host took back: ``bench/rehost_throughput.py``);
``warm``, the warm-up is the measured video itself, deleted just before the measured transfer, which
then reuses the memory it freed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from temporalio.testing import ActivityEnvironment

from bench.sampling import MiB, status_bytes
from tests.fixtures.s3 import MotoS3

PART_BYTES = 8 * MiB
REPO = Path(__file__).resolve().parents[1]


def _cpu_seconds() -> float:
    """User + system CPU of this process so far, every thread's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    return status_bytes("self", "VmRSS")


# -- inside the fresh interpreter ------------------------------------------------------------------------


async def _ours(
    backend: str, url: str, warmup_url: str, moto: MotoS3, bucket: str, data_dir: Path, warm: bool
) -> dict[str, Any]:
    from activities.rehost import RehostActivities
    from core.models import RehostRequest, VendorTask
    from storage import build_storage

    settings = moto.settings(bucket, data_dir, storage_backend=backend)
    storage = build_storage(settings)
    rehost = RehostActivities({}, storage)
    env = ActivityEnvironment()
    task = VendorTask(vendor="fal", model="m", task_id="t", submitted_at=datetime.now(UTC))

    def request(job_id: str, source: str) -> RehostRequest:
        return RehostRequest(job_id=job_id, project_id="proj_bench", task=task, output_url=source)

    warmed = await env.run(rehost.rehost_video, request("vid_warmup", warmup_url))
    if warm:
        await storage.delete(warmed.video_key)
    baseline = _reset_peak()
    started, cpu = time.perf_counter(), _cpu_seconds()
    stored = await env.run(rehost.rehost_video, request("vid_measured", url))
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak = status_bytes("self", "VmHWM")
    await storage.delete(stored.video_key)
    await storage.aclose()
    return {"seconds": seconds, "cpu": cpu, "bytes": stored.size_bytes, "growth": peak - baseline}


class _Hashing:
    """A readable that hashes what is read through it (the raw baselines' "+ sha256" variant)."""

    def __init__(self, source: Any) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._source.read(size)
        self.sha256.update(data)
        return data


def _raw_s3(url: str, warmup_url: str, moto: MotoS3, bucket: str, hashed: bool, warm: bool) -> dict[str, Any]:
    client = moto.client()
    config = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES)

    def upload(source: str, key: str) -> None:
        with urllib.request.urlopen(source) as response:
            body: Any = _Hashing(response) if hashed else response  # boto3 only calls read()
            client.upload_fileobj(body, bucket, key, Config=config)

    upload(warmup_url, "warmup")
    if warm:
        client.delete_object(Bucket=bucket, Key="warmup")
    baseline = _reset_peak()
    started, cpu = time.perf_counter(), _cpu_seconds()
    upload(url, "measured")
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak = status_bytes("self", "VmHWM")
    size = client.head_object(Bucket=bucket, Key="measured")["ContentLength"]
    client.delete_object(Bucket=bucket, Key="measured")
    return {"seconds": seconds, "cpu": cpu, "bytes": size, "growth": peak - baseline}


def _raw_local(url: str, warmup_url: str, data_dir: Path, hashed: bool, warm: bool) -> dict[str, Any]:
    def copy(source: str, path: Path) -> int:
        with urllib.request.urlopen(source) as response, path.open("wb") as out:
            shutil.copyfileobj(_Hashing(response) if hashed else response, out, MiB)
            out.flush()
            os.fsync(out.fileno())
            return out.tell()

    copy(warmup_url, data_dir / "warmup.bin")
    if warm:
        (data_dir / "warmup.bin").unlink()
    baseline = _reset_peak()
    started, cpu = time.perf_counter(), _cpu_seconds()
    size = copy(url, data_dir / "measured.bin")
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    peak = status_bytes("self", "VmHWM")
    (data_dir / "measured.bin").unlink()
    return {"seconds": seconds, "cpu": cpu, "bytes": size, "growth": peak - baseline}


def main() -> None:
    who, backend, url, warmup_url, endpoint, bucket, data_dir, memory = sys.argv[1:9]
    moto, folder, warm = MotoS3(endpoint), Path(data_dir), memory == "warm"
    if who == "ours":
        result = asyncio.run(_ours(backend, url, warmup_url, moto, bucket, folder, warm))
    elif backend == "s3":
        result = _raw_s3(url, warmup_url, moto, bucket, hashed=who == "raw+sha256", warm=warm)
    else:
        result = _raw_local(url, warmup_url, folder, hashed=who == "raw+sha256", warm=warm)
    print(json.dumps(result))


# -- from the benchmark process ----------------------------------------------------------------------------


def measure(
    who: str,
    backend: str,
    url: str,
    warmup_url: str,
    moto: MotoS3,
    bucket: str,
    data_dir: Path,
    memory: str = "cold",
) -> dict[str, Any]:
    """One transfer in a fresh interpreter (blocking), into ``memory`` "cold" or "warm" (see above): warm,
    the warm-up is the measured video itself (``url``), its output deleted just before the measure."""
    warmup_url = url if memory == "warm" else warmup_url
    argv = [sys.executable, "-m", "bench.rehost_transfer", who, backend, url, warmup_url]
    done = subprocess.run(
        [*argv, moto.endpoint_url, bucket, str(data_dir), memory],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{who}/{backend} transfer failed:\n{done.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


if __name__ == "__main__":
    main()
