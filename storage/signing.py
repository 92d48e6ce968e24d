"""HMAC-signed, expiring media URLs for the local backend, and the per-installation signing key.

The API serves local media at ``/v1/media/{key}?exp=<unix seconds>&sig=<hex>``. The signature covers the
key and the expiry, so neither can be changed without the secret; it is checked before the expiry so a
forged URL learns nothing (not even "expired").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from enum import StrEnum
from pathlib import Path

from storage.errors import StorageError
from storage.files import fsync_directory

SIGNING_KEY_FILENAME = "media-signing.key"
SIGNING_KEY_BYTES = 32
# A version tag in the signed message lets a future format change invalidate old URLs explicitly.
_MESSAGE_PREFIX = b"infrai-media-v1\n"


class MediaSignatureStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"


def sign_media_path(key: str, exp: int, secret: bytes) -> str:
    """Hex HMAC-SHA256 of ``key`` and ``exp`` (a unix time in seconds)."""
    # Keys cannot contain a newline (storage.keys), so the message cannot be ambiguous.
    message = _MESSAGE_PREFIX + f"{key}\n{exp}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_media_signature(
    key: str, exp: int, sig: str, secret: bytes, *, now: float | None = None
) -> MediaSignatureStatus:
    """Check ``sig`` in constant time, then the expiry."""
    expected = sign_media_path(key, exp, secret)
    if not hmac.compare_digest(expected.encode(), sig.lower().encode("ascii", "replace")):
        return MediaSignatureStatus.INVALID
    if (time.time() if now is None else now) >= exp:
        return MediaSignatureStatus.EXPIRED
    return MediaSignatureStatus.VALID


def load_or_create_signing_key(data_dir: Path) -> bytes:
    """The installation's media signing key from ``data_dir/media-signing.key``, created when absent.

    API and worker processes may start at the same moment and must end up with the same key, so the file
    is written in full under a temporary name and then hard-linked into place: ``link`` fails if the name
    exists, so exactly one creator wins and everyone reads the winner's bytes.
    """
    path = data_dir / SIGNING_KEY_FILENAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create_exclusively(path, secrets.token_bytes(SIGNING_KEY_BYTES))
    key = path.read_bytes()
    if len(key) < SIGNING_KEY_BYTES:
        raise StorageError(
            f"{path} holds {len(key)} bytes; expected {SIGNING_KEY_BYTES} (delete it to renew)"
        )
    return key


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
            fsync_directory(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
