"""A stored video's reader that serves its first bytes from memory, kept while they were downloaded.

Rehost probes the video it just stored; PyAV starts reading at byte 0 and, for a "fast start" MP4 (the
``moov`` box first, as web videos are), finds all it needs in the first few hundred KB. Serving those from
the copy kept on the way saves the storage a request per rehost (into moto, one ranged GET of a 1 GiB
object cost 0.7-0.85 s: bench/RESULTS.md, P5). Reads past the head open the stored object, once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from storage.sized_reader import SizedRawReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

HEAD_BYTES = 1024 * 1024


class HeadFirstReader(SizedRawReader):
    """Raw reader over an object of ``size`` bytes whose first ``len(head)`` are ``head``; the rest comes
    from ``open_stored()`` (blocking), opened at the first read past the head."""

    def __init__(self, head: bytes, size: int, open_stored: Callable[[], BinaryIO]) -> None:
        super().__init__(size)
        self._head = head
        self._open_stored = open_stored
        self._stored: BinaryIO | None = None

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        if self._position >= self._size or not len(out):
            return 0
        if self._position < len(self._head):
            piece = self._head[self._position : self._position + len(out)]
            out[: len(piece)] = piece
            self._position += len(piece)
            return len(piece)
        if self._stored is None:
            self._stored = self._open_stored()
        self._stored.seek(self._position)
        count = self._stored.readinto(out)  # type: ignore[attr-defined]
        self._position += count or 0
        return count or 0

    def close(self) -> None:
        if self._stored is not None:
            self._stored.close()
        super().close()


def kept_head(head: bytearray, chunk: bytes) -> None:
    """Append to ``head`` what ``chunk`` adds to the object's first ``HEAD_BYTES``."""
    if len(head) < HEAD_BYTES:
        head += chunk[: HEAD_BYTES - len(head)]
