"""HMAC-signed, expiring media URLs for the local backend, and the per-installation signing key.

The API serves local media at ``/v1/media/{key}?exp=<unix seconds>&sig=<hex>``. The signature covers the
key and the expiry, so neither can be changed without the secret; it is checked before the expiry so a
forged URL learns nothing (not even "expired").
"""

from __future__ import annotations

import hashlib
import hmac
import time
from enum import StrEnum
from pathlib import Path

from core.durable_files import read_or_create_key_file
from storage.errors import StorageError

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
    key = read_or_create_key_file(path, SIGNING_KEY_BYTES)
    if len(key) < SIGNING_KEY_BYTES:
        raise StorageError(
            f"{path} holds {len(key)} bytes; expected {SIGNING_KEY_BYTES} (delete it to renew)"
        )
    return key
