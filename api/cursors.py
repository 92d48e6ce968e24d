"""Opaque, signed pagination cursors.

A cursor is base64url(JSON) + "." + base64url(HMAC-SHA256 truncated to 16 bytes), keyed by a secret
derived from the installation's signing secret. The listing binds the caller's project and filters into
it and checks them on the way back, so a cursor can neither be edited nor carried into another project
(the project filter itself always comes from the API key, never from the cursor).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

_KEY_LABEL = b"infrai-list-cursor-v1"
_MAC_BYTES = 16
MAX_CURSOR_CHARS = 1024


class InvalidCursor(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, installation_secret: bytes) -> None:
        self._key = hmac.new(installation_secret, _KEY_LABEL, hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, fields: dict[str, str | None]) -> str:
        payload = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cursor: str) -> dict[str, str | None]:
        """The fields of a cursor this installation made; ``InvalidCursor`` for anything else."""
        body, _, mac = cursor.partition(".")
        try:
            if len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
                raise ValueError
            payload = _unb64(body)
            if not hmac.compare_digest(self._mac(payload), _unb64(mac)):
                raise ValueError
            fields = json.loads(payload)
        except (ValueError, binascii.Error):
            raise InvalidCursor("the cursor is not one this API issued") from None
        if not isinstance(fields, dict) or not all(isinstance(v, str | None) for v in fields.values()):
            raise InvalidCursor("the cursor is not one this API issued")
        return fields
