"""The size and sha256 every stored object records, computed while its bytes go by.

sha256 is the costliest step of a copy after the network reads (~0.6 s of CPU per GiB with SHA-NI,
bench/RESULTS.md, P5), so a stream is hashed on a thread of its own (``StreamDigest``), in order, while
the same bytes are written or uploaded on others: hashlib releases the GIL for large buffers. Cheaper
still is hashing each piece in the thread that just read it, while it is in that core's cache: a caller
that does so hands its ``Digest`` to the store (``put_stream(..., hashed=digest)``), whose
``StreamDigest`` then only counts the bytes, to check the digest covers exactly what was stored.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from storage.errors import StorageError
from storage.threads import settle

Piece = bytes | bytearray | memoryview


class Digest:
    """Size and sha256 of every byte fed to it, in order."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self.size = 0

    def update(self, data: Piece) -> None:
        self._sha256.update(data)  # releases the GIL for large buffers
        self.size += len(data)

    def update_all(self, pieces: Sequence[Piece]) -> None:
        for piece in pieces:
            self.update(piece)

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


class StreamDigest:
    """``digest`` (a new one when None) fed batch by batch on a thread of its own, one batch hashing while
    the next fills.

    The pieces fed must not change until hashed (``bytes``, or views of them). Use as an async context
    manager; the digest is complete once ``digest()`` returns.

    ``hashed_by_caller``: ``digest`` is fed by whoever produces the stream, every piece before it is fed
    here; this only counts what it is fed, and ``digest()`` raises ``StorageError`` unless the two sizes
    agree (a producer that skipped or repeated a piece must not leave a wrong checksum on record).
    """

    def __init__(self, digest: Digest | None = None, *, hashed_by_caller: bool = False) -> None:
        if hashed_by_caller and digest is None:
            raise ValueError("hashed_by_caller needs the caller's digest")
        self._digest = digest if digest is not None else Digest()
        self._hashed_by_caller = hashed_by_caller
        self._fed_bytes = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infrai-sha256")
        self._hashing: asyncio.Future[None] | None = None

    async def __aenter__(self) -> StreamDigest:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._hashing is not None:
                await settle([self._hashing])  # the thread reads the caller's buffers: let it finish
                if exc_info[0] is not None and not self._hashing.cancelled():
                    self._hashing.exception()  # collected: the caller's own error is what matters
        finally:
            self._executor.shutdown(wait=False)

    async def feed(self, pieces: Sequence[Piece]) -> None:
        """Hash ``pieces`` after everything fed before; waits only for the batch before them."""
        if self._hashed_by_caller:
            self._fed_bytes += sum(len(piece) for piece in pieces)
            return
        await self._wait()
        loop = asyncio.get_running_loop()
        self._hashing = loop.run_in_executor(self._executor, self._digest.update_all, list(pieces))

    async def digest(self) -> Digest:
        await self._wait()
        if self._hashed_by_caller and self._fed_bytes != self._digest.size:
            raise StorageError(
                f"the stream's digest covers {self._digest.size} bytes, but {self._fed_bytes} were stored"
            )
        return self._digest

    async def _wait(self) -> None:
        if self._hashing is not None:
            await settle([self._hashing])  # done even when cancelled meanwhile (then re-raised)
            hashing, self._hashing = self._hashing, None
            hashing.result()
