"""One atomic file write: a temporary file beside the target, fsync, then ``os.replace``.

Every method blocks; ``LocalMediaStorage`` runs them in a thread. Until ``commit`` the object does not
exist under its name, so a reader never sees a partial file, and ``discard`` leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from storage.base import StoredObject
from storage.errors import StorageError
from storage.files import fsync_directory

OBJECT_FILE_MODE = 0o644


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
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.fchmod(fd, OBJECT_FILE_MODE)
        except OSError as exc:
            raise StorageError.from_os_error(f"cannot create a file for {path.name!r}", exc) from exc
        return cls(path, fd, Path(tmp_name))

    def append(self, data: bytes | bytearray) -> None:
        self._sha256.update(data)  # releases the GIL for large buffers
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise StorageError.from_os_error(f"cannot write {self.path.name!r}", exc) from exc
        self._size += len(data)

    def copy_block(self, source: BinaryIO, size: int) -> int:
        """Append up to ``size`` bytes read from ``source``; 0 at its end."""
        data = source.read(size)
        if data:
            self.append(data)
        return len(data)

    def commit(self, key: str, content_type: str) -> StoredObject:
        """Make the file durable, then publish sidecar and data under their names."""
        stored = StoredObject(key, self._size, self._sha256.hexdigest(), content_type)
        meta_tmp = self._tmp_path.with_name(self._tmp_path.name + ".meta")
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
