"""The contract every media storage backend implements, and what a stored object looks like.

Video bytes never travel through Temporal: the ``rehost`` activity streams a vendor's output into a
``MediaStorage`` and hands only the resulting ``StoredObject`` (key, size, checksum) onwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from storage.digest import Digest


@dataclass(frozen=True)
class StoredObject:
    """A complete object in storage.

    ``sha256`` is the hex digest of the whole object, computed while it was written. It is ``""`` only for
    an object this code did not write (placed by hand or by another tool), whose digest nobody recorded.
    """

    key: str
    size_bytes: int
    sha256: str
    content_type: str


@dataclass(frozen=True)
class ListedObject:
    """An object as a listing sees it: enough to judge its age (housekeeping's retention)."""

    key: str
    size_bytes: int
    modified: datetime  # when it was last written, timezone-aware UTC


class MediaStorage(Protocol):
    """Object storage for finished videos and thumbnails.

    Writes are atomic: an object is visible (``head``, ``open_reader``, URLs) only once it is complete, and
    a write that fails or is cancelled leaves nothing behind. Memory stays bounded whatever the object
    size. Keys are validated by ``storage.keys.validate_key``; a bad key raises ``InvalidObjectKeyError``.
    """

    # The chunk size ``put_stream`` stores with the least copying (S3: a whole part), or None for any.
    stream_chunk_bytes: int | None

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, hashed: Digest | None = None
    ) -> StoredObject:
        """Store everything ``chunks`` yields under ``key`` (replacing any object there).

        ``hashed``: the producer of ``chunks`` feeds every chunk into this digest before yielding it (the
        cheapest place: the thread that read the bytes), and it is recorded instead of a second hash of the
        stream. A digest whose size is not the stored size fails the write (``StorageError``).
        """
        ...

    async def put_file(self, key: str, path: Path, content_type: str) -> StoredObject:
        """Store the file at ``path`` under ``key``."""
        ...

    async def discard_incomplete(self, key: str) -> None:
        """Remove what interrupted writes of ``key`` left behind: a writer killed outright (SIGKILL) cannot
        clean up its temporary file (local) or unfinished multipart upload (S3). The object under ``key``,
        if any, stays. A write of ``key`` still running fails; call this only when none is alive, e.g. from
        an activity's retry once Temporal has declared the previous attempt dead.
        """
        ...

    def open_reader(self, key: str) -> BinaryIO:
        """A read-only, seekable file object over the object (blocking: call it from a thread).

        Raises ``ObjectNotFoundError`` when there is no such object.
        """
        ...

    async def head(self, key: str) -> StoredObject | None:
        """The object's size, checksum and content type, or None when there is no such object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    def list_objects(self, prefix: str) -> AsyncIterator[ListedObject]:
        """Every complete object whose key starts with ``prefix`` (a whole ``/``-ended folder, e.g.
        ``videos/``), a page or a folder at a time so memory stays bounded; no order is promised.
        Objects written or deleted meanwhile may or may not be listed."""
        ...

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        """A URL anyone holding it can GET the object from, for ``ttl_seconds`` (no I/O)."""
        ...

    async def ping(self) -> None:
        """Raise ``StorageError`` unless the store can be reached and written to right now (readiness)."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...
