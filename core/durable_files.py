"""File-system steps that survive a crash and a race: the storage backend's writes and the key files."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def fsync_directory(path: Path) -> None:
    """Make a rename or link inside ``path`` durable (POSIX needs the directory itself synced)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_or_create_key_file(path: Path, size: int) -> bytes:
    """The bytes of the key file at ``path``, first filling it with ``size`` random bytes when absent.

    Processes starting together must end up with one key: it is written in full under a temporary name
    and hard-linked into place, and ``link`` fails when the name exists, so exactly one creator wins and
    everyone reads the winner's bytes. The caller checks the length (a file it did not write may differ).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_exclusively(path, secrets.token_bytes(size))
    return path.read_bytes()


def _create_exclusively(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, path)
            fsync_directory(path.parent)  # the link itself survives a crash
    finally:
        tmp.unlink(missing_ok=True)
