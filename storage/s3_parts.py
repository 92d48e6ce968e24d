"""Cutting what is to be uploaded into S3 parts, while measuring its size and sha256.

Both sources yield every full part (exactly ``part_bytes``) and then, always last, one short part (possibly
empty). A part is a list of pieces; the uploader joins them in its thread, off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from pathlib import Path
from typing import BinaryIO

from storage.digest import Digest, StreamDigest
from storage.threads import run_to_completion

Piece = bytes | memoryview


def parts_length(pieces: list[Piece]) -> int:
    return sum(len(piece) for piece in pieces)


async def stream_parts(
    chunks: AsyncIterable[bytes], part_bytes: int, hashing: StreamDigest
) -> AsyncGenerator[list[Piece], None]:
    """Regroup a stream's chunks into parts, hashing each part on ``hashing``'s thread while it uploads
    (hashing on the event loop made the loop, which also receives the stream, the bottleneck). The
    digest is complete when the last part is yielded."""
    pending: list[Piece] = []
    pending_bytes = 0
    async for chunk in chunks:
        if not pending and len(chunk) == part_bytes and isinstance(chunk, bytes):
            await hashing.feed([chunk])
            yield [chunk]  # a part read whole: uploaded as it is, no copy
            continue
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)  # a bytearray might be reused by its producer; our views must not change
        view = memoryview(chunk)  # slicing a view copies nothing, however large the chunk
        while view:
            room = part_bytes - pending_bytes
            piece, view = view[:room], view[room:]
            pending.append(piece)
            pending_bytes += len(piece)
            if pending_bytes == part_bytes:
                await hashing.feed(pending)
                yield pending
                pending, pending_bytes = [], 0
    await hashing.feed(pending)
    await hashing.digest()
    yield pending


async def file_parts(path: Path, part_bytes: int, digest: Digest) -> AsyncGenerator[list[Piece], None]:
    """Read a file a whole part at a time in a thread, hashing there too: one thread hop per part."""
    file: BinaryIO = await run_to_completion(None, open, path, "rb")
    try:
        while True:
            part = await run_to_completion(None, _read_and_hash, file, part_bytes, digest)
            if len(part) < part_bytes:
                yield [part]
                return
            yield [part]
    finally:
        file.close()


def _read_and_hash(file: BinaryIO, size: int, digest: Digest) -> bytes:
    data = file.read(size)
    digest.update(data)
    return data
