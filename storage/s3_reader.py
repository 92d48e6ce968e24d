"""A seekable, read-only file object over an S3 object, reading it by ranged GETs.

PyAV probes an MP4 by reading its start, jumping to the ``moov`` box (often at the end) and back to the
first frame. Fetching aligned blocks (1 MiB by default) and keeping the last few in a tiny cache serves
that pattern in a handful of requests, without downloading the whole video.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from storage.errors import StorageError
from storage.sized_reader import SizedRawReader

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

READ_BLOCK_BYTES = 1024 * 1024
CACHED_BLOCKS = 4

# fetch(start, end) returns bytes [start, end) of the object; it blocks (the reader is used in a thread).
RangeFetcher = Callable[[int, int], bytes]


class RangeReader(SizedRawReader):
    """Raw reader; wrap it in ``io.BufferedReader`` for the full binary file interface."""

    def __init__(
        self,
        fetch: RangeFetcher,
        size: int,
        *,
        name: str = "",
        block_bytes: int = READ_BLOCK_BYTES,
        cached_blocks: int = CACHED_BLOCKS,
    ) -> None:
        super().__init__(size)
        self._fetch = fetch
        self._block_bytes = block_bytes
        self._cached_blocks = max(1, cached_blocks)
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self.name = name
        self.requests = 0  # ranged GETs made: lets callers and tests see what a read pattern cost
        self.bytes_fetched = 0

    @property
    def size(self) -> int:
        return self._size

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        out = memoryview(buffer).cast("B")
        wanted = max(0, min(len(out), self._size - self._position))
        done = 0
        while done < wanted:
            index, offset = divmod(self._position, self._block_bytes)
            block = self._block(index)
            take = min(wanted - done, len(block) - offset)
            if take <= 0:
                raise StorageError(f"{self.name!r} is shorter than the {self._size} bytes it announced")
            out[done : done + take] = block[offset : offset + take]
            done += take
            self._position += take
        return done

    def _block(self, index: int) -> bytes:
        block = self._cache.get(index)
        if block is not None:
            self._cache.move_to_end(index)
            return block
        start = index * self._block_bytes
        block = self._fetch(start, min(start + self._block_bytes, self._size))
        self.requests += 1
        self.bytes_fetched += len(block)
        self._cache[index] = block
        if len(self._cache) > self._cached_blocks:
            self._cache.popitem(last=False)
        return block

    def close(self) -> None:
        self._cache.clear()
        super().close()
