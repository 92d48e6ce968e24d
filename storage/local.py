"""Local-file media storage: the embedded default, served by the API at HMAC-signed expiring URLs.

Each object is a plain file under the root, named by its key, with a small JSON sidecar
(``.<name>.meta.json`` beside it) recording size, sha256 and content type. Dot-names can never be keys
(``storage.keys``), so sidecars and temporary files never collide with objects.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from storage.base import ListedObject, StoredObject
from storage.digest import Digest, StreamDigest
from storage.errors import InvalidObjectKeyError, ObjectNotFoundError, StorageError
from storage.keys import validate_key
from storage.local_write import AtomicFileWrite, discard_temporaries, sidecar_path
from storage.signing import MediaSignatureStatus, sign_media_path, verify_media_signature
from storage.threads import run_to_completion, settle

# Bytes gathered from the stream before one write: few thread hops, little memory (two batches at most:
# one being written and hashed in two threads while the next fills).
WRITE_BLOCK_BYTES = 4 * 1024 * 1024
COPY_BLOCK_BYTES = 8 * 1024 * 1024
MEDIA_ROUTE_PREFIX = "/v1/media/"


class LocalMediaStorage:
    """``MediaStorage`` on a directory. ``signing_secret`` signs the URLs the API's media route serves."""

    stream_chunk_bytes: int | None = None  # any: chunks are written as they come

    def __init__(self, root: Path, *, public_base_url: str, signing_secret: bytes) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._public_base_url = public_base_url.rstrip("/")
        self._signing_secret = signing_secret

    def local_path(self, key: str) -> Path:
        """Where the object under ``key`` lives (whether or not it exists)."""
        path = (self.root / validate_key(key)).resolve()
        # Keys cannot contain '..'; this also refuses a symlink someone planted under the root.
        if not path.is_relative_to(self.root):
            raise InvalidObjectKeyError(f"object key {key!r} resolves outside the storage root")
        return path

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, hashed: Digest | None = None
    ) -> StoredObject:
        async with StreamDigest(hashed, hashed_by_caller=hashed is not None) as hashing:

            async def fill(write: AtomicFileWrite) -> Digest:
                batch: list[bytes] = []
                gathered = 0
                writing: asyncio.Future[None] | None = None
                try:
                    async for chunk in chunks:
                        batch.append(chunk)
                        gathered += len(chunk)
                        if gathered >= WRITE_BLOCK_BYTES:
                            # The chunks go to the threads as they came (never copied into one block):
                            # one hashes them, one writes them, while the next batch is received.
                            if writing is not None:
                                await _settled(writing)
                            full, batch, gathered = batch, [], 0
                            await hashing.feed(full)
                            writing = asyncio.get_running_loop().run_in_executor(None, write.write_all, full)
                    if writing is not None:
                        await _settled(writing)
                        writing = None
                    if batch:
                        await hashing.feed(batch)
                        await run_to_completion(None, write.write_all, batch)
                finally:
                    if writing is not None:  # failed or cancelled: the thread must be done before discard
                        await settle([writing])
                return await hashing.digest()

            return await self._write(key, content_type, fill)

    async def put_file(self, key: str, path: Path, content_type: str) -> StoredObject:
        async def fill(write: AtomicFileWrite) -> None:
            source: BinaryIO = await run_to_completion(None, open, path, "rb")
            try:
                # Read, hash and write a block per thread hop; between hops a cancellation can land.
                while await run_to_completion(None, write.copy_block, source, COPY_BLOCK_BYTES):
                    pass
            finally:
                source.close()
            return None

        return await self._write(key, content_type, fill)

    async def _write(
        self, key: str, content_type: str, fill: Callable[[AtomicFileWrite], Awaitable[Digest | None]]
    ) -> StoredObject:
        """``fill`` writes the object's bytes and returns their digest, or None when ``append_all``
        hashed them."""
        write = await run_to_completion(None, AtomicFileWrite.begin, self.local_path(key))
        try:
            digest = await fill(write)
            return await run_to_completion(None, write.commit, key, content_type, digest)
        except BaseException:
            # Synchronous on purpose: closing and unlinking is instant and must survive a cancellation.
            write.discard()
            raise

    async def discard_incomplete(self, key: str) -> None:
        await run_to_completion(None, discard_temporaries, self.local_path(key))

    def open_reader(self, key: str) -> BinaryIO:
        path = self.local_path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(f"no object {key!r}") from exc
        except OSError as exc:
            raise StorageError.from_os_error(f"cannot open {key!r}", exc) from exc

    async def head(self, key: str) -> StoredObject | None:
        path = self.local_path(key)
        return await run_to_completion(None, _read_stored_object, key, path)

    async def delete(self, key: str) -> None:
        path = self.local_path(key)
        await run_to_completion(None, _delete_files, path)

    async def list_objects(self, prefix: str) -> AsyncIterator[ListedObject]:
        # One folder per thread hop. Dot-names (temporaries, sidecars) are never objects.
        folder, _, _ = prefix.rpartition("/")
        pending = [self.root / folder if folder else self.root]
        while pending:
            directory = pending.pop()
            files, folders = await run_to_completion(None, _scan_folder, directory)
            pending += folders
            for path, size, mtime in files:
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield ListedObject(key, size, datetime.fromtimestamp(mtime, UTC))

    def signed_url(self, key: str, ttl_seconds: int) -> str:
        validate_key(key)
        if ttl_seconds <= 0:
            raise ValueError(f"a media URL must live at least 1 s; asked for {ttl_seconds} s")
        exp = int(time.time()) + ttl_seconds
        sig = sign_media_path(key, exp, self._signing_secret)
        return f"{self._public_base_url}{MEDIA_ROUTE_PREFIX}{key}?exp={exp}&sig={sig}"

    def verify_signature(self, key: str, exp: int, sig: str) -> MediaSignatureStatus:
        return verify_media_signature(key, exp, sig, self._signing_secret)

    async def ping(self) -> None:
        await run_to_completion(None, _check_writable, self.root)

    async def aclose(self) -> None:
        return None


async def _settled(future: asyncio.Future[None]) -> None:
    """Wait for a write without ever abandoning it to a cancellation, then raise its error, if any."""
    await settle([future])
    future.result()


def _read_stored_object(key: str, path: Path) -> StoredObject | None:
    # An overwrite replaces the sidecar just before the data file; in that instant the two disagree
    # (different inode), so look again rather than report a mismatched checksum.
    for _ in range(3):
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not S_ISREG(stat.st_mode):
            return None
        meta = _read_sidecar(path)
        if meta is not None and meta.get("inode") == stat.st_ino and meta.get("size_bytes") == stat.st_size:
            return StoredObject(key, stat.st_size, str(meta["sha256"]), str(meta["content_type"]))
        time.sleep(0.001)
    # Not written by us (or its sidecar is gone): the size is real, the checksum unknown.
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return StoredObject(key, stat.st_size, "", guessed)


def _read_sidecar(path: Path) -> dict[str, object] | None:
    try:
        meta = json.loads(sidecar_path(path).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _delete_files(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        sidecar_path(path).unlink(missing_ok=True)
    except IsADirectoryError:
        return  # a "directory" key prefix is not an object
    except OSError as exc:
        raise StorageError.from_os_error(f"cannot delete {path.name!r}", exc) from exc


def _scan_folder(directory: Path) -> tuple[list[tuple[Path, int, float]], list[Path]]:
    """The regular files (path, size, mtime) and the sub-folders of ``directory``, dot-names left out."""
    files: list[tuple[Path, int, float]] = []
    folders: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return files, folders
    except OSError as exc:
        raise StorageError.from_os_error(f"cannot list {directory}", exc) from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            folders.append(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted meanwhile
            files.append((Path(entry.path), stat.st_size, stat.st_mtime))
    return files, folders


def _check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError.from_os_error(f"cannot create {root}", exc) from exc
    if not os.access(root, os.W_OK | os.X_OK):
        raise StorageError(f"{root} is not writable")
