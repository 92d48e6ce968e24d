"""AES keys as settings give them: ``id:base64key[,id:base64key...]``, the current key first.

One format for both places keys are set: the Temporal payload codec (``INFRAI_PAYLOAD_ENCRYPTION_KEYS``,
``workflows/encryption.py``) and the accounts DB's sealed secrets (``INFRAI_ACCOUNTS_ENCRYPTION_KEYS``,
``accounts/sealing.py``). The first key encrypts; every listed key decrypts, found by its id, so rotating
is "put a new key first, keep the old ones listed".
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

AES_KEY_BYTES = (16, 24, 32)
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class AesKey:
    key_id: str
    secret: bytes = field(repr=False)  # never in a repr, a log line or an error message


def parse_key_setting(value: str, setting: str) -> list[AesKey]:
    """The keys ``setting`` holds, current first. Errors name the setting and the entry's position or id,
    never the key itself."""
    keys: list[AesKey] = []
    for position, entry in enumerate((part.strip() for part in value.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(f"{setting} entry #{position}: expected id:base64key with a short id")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{setting} key {key_id!r} is not valid base64") from None
        if len(secret) not in AES_KEY_BYTES:
            raise ValueError(f"{setting} key {key_id!r}: an AES key is 16/24/32 bytes")
        if any(key.key_id == key_id for key in keys):
            raise ValueError(f"{setting} lists key {key_id!r} twice")
        keys.append(AesKey(key_id, secret))
    if not keys:
        raise ValueError(f"{setting} is set but holds no key")
    return keys
