"""One atomic file write: a temporary file beside the target, fsync, then ``os.replace``.

Every method blocks; ``LocalMediaStorage`` runs them in a thread. Until ``commit`` the object does not
exist under its name, so a reader never sees a partial file, and ``discard`` leaves nothing behind.
A writer killed outright (SIGKILL, power loss) cannot discard: its temporary files keep a name only
``discard_temporaries`` matches, so the next writer of the key (a retried activity) removes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from core.durable_files import fsync_directory
from storage.base import StoredObject
from storage.digest import Digest
from storage.errors import StorageError

OBJECT_FILE_MODE = 0o644
_TOKEN_BYTES = 8
_TMP_SUFFIX = ".tmp"
_META_SUFFIX = ".meta"


def sidecar_path(path: Path) -> Path:
    """The metadata file of the object at ``path`` (a dot-name, so never a key)."""
    return path.with_name(f".{path.name}.meta.json")


class AtomicFileWrite:
    def __init__(self, path: Path, fd: int, tmp_path: Path) -> None:
        self.path = path
        self._fd = fd
        self._tmp_path = tmp_path
        self._sha256 = hashlib.sha256()
        self._size = 0
        self._closed = False

    @classmethod
    def begin(cls, path: Path) -> AtomicFileWrite:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_path = path.with_name(f".{path.name}.{secrets.token_hex(_TOKEN_BYTES)}{_TMP_SUFFIX}")
            fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OBJECT_FILE_MODE)
        except OSError as exc:
            raise StorageError.from_os_error(f"cannot create a file for {path.name!r}", exc) from exc
        return cls(path, fd, tmp_path)

    def append(self, data: bytes | bytearray) -> None:
        self.append_all([data])

    def append_all(self, chunks: Sequence[bytes | bytearray]) -> None:
        """Hash and write ``chunks`` in order, each as it came: no copy into a bigger buffer."""
        for chunk in chunks:
            self._sha256.update(chunk)  # releases the GIL for large buffers
        self.write_all(chunks)

    def write_all(self, chunks: Sequence[bytes | bytearray]) -> None:
        """Write ``chunks`` in order without hashing them: the caller hashes them beside (``commit``'s
        ``digest``). One ``write`` per chunk: a ``writev`` of many chunks cost three times the CPU of these
        writes on ext4 (bench/RESULTS.md, P5)."""
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                self._size += len(chunk)
        except OSError as exc:
            raise StorageError.from_os_error(f"cannot write {self.path.name!r}", exc) from exc

    def copy_block(self, source: BinaryIO, size: int) -> int:
        """Append up to ``size`` bytes read from ``source``; 0 at its end."""
        data = source.read(size)
        if data:
            self.append(data)
        return len(data)

    def commit(self, key: str, content_type: str, digest: Digest | None = None) -> StoredObject:
        """Make the file durable, then publish sidecar and data under their names. ``digest``: the hash of
        what ``write_all`` wrote, when the caller computed it (else the one ``append_all`` kept)."""
        if digest is not None and digest.size != self._size:
            self.discard()
            raise StorageError(f"hashed {digest.size} bytes of {key!r} but wrote {self._size}")
        sha256 = digest.hexdigest() if digest is not None else self._sha256.hexdigest()
        stored = StoredObject(key, self._size, sha256, content_type)
        meta_tmp = self._tmp_path.with_name(self._tmp_path.name + _META_SUFFIX)
        try:
            os.fsync(self._fd)
            inode = os.fstat(self._fd).st_ino
            self._close()
            meta = {
                "size_bytes": stored.size_bytes,
                "sha256": stored.sha256,
                "content_type": stored.content_type,
                # A rename keeps the inode: readers use it to match sidecar and data during an overwrite.
                "inode": inode,
            }
            _write_durably(meta_tmp, json.dumps(meta).encode())
            # Sidecar first, so that a new object's data never appears without its metadata.
            os.replace(meta_tmp, sidecar_path(self.path))
            os.replace(self._tmp_path, self.path)
            fsync_directory(self.path.parent)
        except OSError as exc:
            meta_tmp.unlink(missing_ok=True)
            self.discard()
            raise StorageError.from_os_error(f"cannot store {key!r}", exc) from exc
        return stored

    def discard(self) -> None:
        self._close()
        self._tmp_path.unlink(missing_ok=True)

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


def _write_durably(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OBJECT_FILE_MODE)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)


def discard_temporaries(path: Path) -> int:
    """Remove the temporary files unfinished writes of ``path`` left behind; how many were removed.

    Only names ``begin`` makes match (``.<name>.<16 hex>.tmp`` and its ``.meta``), so temporaries of other
    keys in the folder (``<name>.x`` say) and every object and sidecar stay. A write still running on
    ``path`` loses its temporary file and fails at commit: call this only when no writer is alive.
    """
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.[0-9a-f]{{{2 * _TOKEN_BYTES}}}{re.escape(_TMP_SUFFIX)}"
        rf"(?:{re.escape(_META_SUFFIX)})?"
    )
    removed = 0
    try:
        candidates = list(path.parent.iterdir())
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StorageError.from_os_error(f"cannot list the folder of {path.name!r}", exc) from exc
    for candidate in candidates:
        if pattern.fullmatch(candidate.name):
            try:
                candidate.unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError.from_os_error(f"cannot remove {candidate.name!r}", exc) from exc
            removed += 1
    return removed
