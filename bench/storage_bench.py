"""Throughput of ``S3MediaStorage.put_stream`` against a raw boto3 ``upload_fileobj`` of the same bytes.

    .venv/bin/python -m bench.storage_bench [--size-mb 200] [--part-mb 8] [--repeats 5] [--endpoint URL]

Without ``--endpoint`` it starts moto's server on a loopback port (what the tests use); point it at MinIO
for a more realistic figure. Both sides read the same file from disk and use the same part size; boto3
keeps its default 10 upload threads, we keep 3 parts in flight. Runs rotate so drift hits all alike.
Also prints peak RSS growth of a 200 MB put_stream, measured in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import mmap
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from storage import S3MediaStorage, build_storage
from tests.fixtures.s3 import MotoS3, start_moto_server, stop_moto_server
from tests.test_storage_memory import measure_in_subprocess

MiB = 1024 * 1024


def write_random_file(path: Path, size: int) -> None:
    block = os.urandom(8 * MiB)
    with path.open("wb") as file:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            file.write(piece)
            written += len(piece)


def raw_boto3_upload(moto: MotoS3, bucket: str, path: Path, part_bytes: int) -> Callable[[str], None]:
    client = moto.client()
    config = TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes)

    def upload(key: str) -> None:
        with path.open("rb") as file:
            client.upload_fileobj(file, bucket, key, Config=config)

    return upload


async def mapped_file_chunks(path: Path, chunk_bytes: int = MiB) -> AsyncIterator[bytes]:
    """The file as a stream of 1 MiB chunks, as the rehost activity receives a vendor's video (httpx
    aiter_bytes): no thread hops of its own, the page cache standing in for the network."""
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        for offset in range(0, len(mapped), chunk_bytes):
            yield mapped[offset : offset + chunk_bytes]


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


RAW = "raw boto3 upload_fileobj"
STREAM = "ours put_stream (1 MiB chunks)"
FILE = "ours put_file"


async def run(args: argparse.Namespace, moto: MotoS3, workdir: Path) -> None:
    size = args.size_mb * MiB
    source = workdir / "source.bin"
    write_random_file(source, size)
    bucket = moto.new_bucket()
    storage = build_storage(moto.settings(bucket, workdir, s3_part_size_mb=args.part_mb))
    assert isinstance(storage, S3MediaStorage)
    raw_upload = raw_boto3_upload(moto, bucket, source, args.part_mb * MiB)
    actions: dict[str, Callable[[], Awaitable[object]]] = {
        RAW: lambda: asyncio.to_thread(raw_upload, "raw"),
        STREAM: lambda: storage.put_stream("stream", mapped_file_chunks(source), "video/mp4"),
        FILE: lambda: storage.put_file("file", source, "video/mp4"),
    }
    for action in actions.values():  # warm up connections, threads and moto
        await action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    names = list(actions)
    for round_number in range(args.repeats):
        # Rotate who goes first: background load and moto's own state then hit every contender alike.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(await timed(actions[name]))
    await storage.aclose()

    print(
        f"\n{args.size_mb} MiB object, {args.part_mb} MiB parts, {args.repeats} runs each,"
        f" endpoint {moto.endpoint_url}"
    )
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    for name, seconds in times.items():
        rates = ", ".join(f"{args.size_mb / s:.0f}" for s in seconds)
        print(f"  {name:32s} median {args.size_mb / medians[name]:6.1f} MiB/s   (runs: {rates})")
    for name in (STREAM, FILE):
        print(f"  {name} / raw throughput: {medians[RAW] / medians[name]:.2f}x (target >= 0.9x)")

    if not args.skip_memory:
        for backend in ("s3", "local"):
            measured = measure_in_subprocess(backend, moto, moto.new_bucket(), workdir / f"mem-{backend}")
            growth = measured["growth"] / MiB
            print(
                f"  peak RSS growth, 200 MiB put_stream, {backend:5s} backend (default parts):"
                f" {growth:.1f} MiB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--part-mb", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--endpoint", help="an S3 endpoint with access key/secret 'testing' (default: moto)")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="storage-bench-") as tmp:
        workdir = Path(tmp)
        process = None
        if args.endpoint:
            moto = MotoS3(args.endpoint)
        else:
            process, moto = start_moto_server(workdir / "moto.log")
        try:
            asyncio.run(run(args, moto, workdir))
        finally:
            if process is not None:
                stop_moto_server(process)


if __name__ == "__main__":
    main()
