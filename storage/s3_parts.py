"""Cutting what is to be uploaded into S3 parts, while measuring its size and sha256.

Both sources yield every full part (exactly ``part_bytes``) and then, always last, one short part (possibly
empty). A part is a list of pieces; the uploader joins them in its thread, off the event loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable
from pathlib import Path
from typing import BinaryIO

from storage.threads import run_to_completion

Piece = bytes | memoryview


class Digest:
    """Size and sha256 of every byte fed to it, in order."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, data: Piece) -> None:
        self._sha256.update(data)  # releases the GIL for large buffers
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def parts_length(pieces: list[Piece]) -> int:
    return sum(len(piece) for piece in pieces)


async def stream_parts(
    chunks: AsyncIterable[bytes], part_bytes: int, digest: Digest
) -> AsyncGenerator[list[Piece], None]:
    """Regroup a stream's chunks into parts, hashing each chunk as it arrives (on the event loop: a
    network chunk of up to 1 MiB hashes in well under a millisecond)."""
    pending: list[Piece] = []
    pending_bytes = 0
    async for chunk in chunks:
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)  # a bytearray might be reused by its producer; our views must not change
        digest.update(chunk)
        view = memoryview(chunk)  # slicing a view copies nothing, however large the chunk
        while view:
            room = part_bytes - pending_bytes
            piece, view = view[:room], view[room:]
            pending.append(piece)
            pending_bytes += len(piece)
            if pending_bytes == part_bytes:
                yield pending
                pending, pending_bytes = [], 0
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
