"""Secrets the accounts DB has to give back (webhook signing secrets), sealed with AES-GCM at rest.

An API key is stored as a hash, but a webhook secret must be read again to sign, so it is encrypted
instead: a copy of the database (a backup, a replica, a dump in a ticket) then holds nothing that can
forge our webhooks.

Keys: ``INFRAI_ACCOUNTS_ENCRYPTION_KEYS`` = ``id:base64key[,id:base64key...]`` (16-, 24- or 32-byte AES
keys, the format of ``INFRAI_PAYLOAD_ENCRYPTION_KEYS``, both read by ``core/keys.py``;
``workflows.encryption.new_key_entry`` makes one). The first seals, every listed key opens (rotation: put
the new key first, keep the old ones listed).
Unset, a 256-bit key is generated into the data folder, which serves every process sharing that folder
(the embedded stack); API and worker processes on different machines must all be given the same keys.

A sealed value reads ``sealed:v1:<key id>:<base64 nonce + ciphertext>``. The key id, the purpose and the
row's owner (the project) are authenticated, so a sealed value moved to another project's row does not
open. A value without the prefix was stored before sealing existed and is returned as is (migration
0005 seals those rows).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.durable_files import read_or_create_key_file
from core.keys import AesKey, parse_key_setting
from core.settings import Settings

SEALED_PREFIX = "sealed:v1:"
KEY_FILENAME = "accounts-encryption.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealingError(ValueError):
    """A sealed value could not be opened: its key is not configured here, or it was altered."""


def parse_sealing_keys(value: str) -> list[AesKey]:
    """``INFRAI_ACCOUNTS_ENCRYPTION_KEYS`` as keys, current first (the format is ``core/keys.py``'s)."""
    return parse_key_setting(value, "INFRAI_ACCOUNTS_ENCRYPTION_KEYS")


class SecretSealer:
    """Seals and opens short secrets for one purpose (``"webhook-secret"``), bound to their owner."""

    def __init__(self, keys: list[AesKey]) -> None:
        if not keys:
            raise ValueError("a sealer needs at least one key")
        self._current = keys[0].key_id
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretSealer:
        configured = settings.accounts_encryption_keys
        if configured is not None:
            return cls(parse_sealing_keys(configured.get_secret_value()))
        return cls([data_folder_key(settings.data_dir)])

    @property
    def current_key_id(self) -> str:
        return self._current

    def seal(self, purpose: str, owner: str, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(
            nonce, plaintext.encode(), _associated(purpose, owner, self._current)
        )
        return f"{SEALED_PREFIX}{self._current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, purpose: str, owner: str, stored: str) -> str:
        """The plaintext of ``stored``; a value stored before sealing (no prefix) is returned as is."""
        if not is_sealed(stored):
            return stored
        key_id, _, encoded = stored[len(SEALED_PREFIX) :].partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealingError(
                f"a stored {purpose} is sealed with key {key_id[:64]!r}, which this process does not have: "
                "give every API and worker process the same INFRAI_ACCOUNTS_ENCRYPTION_KEYS"
            )
        try:
            data = base64.b64decode(encoded, validate=True)
            associated = _associated(purpose, owner, key_id)
            opened = cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], associated)
        except (binascii.Error, ValueError, InvalidTag):
            raise SealingError(f"a stored {purpose} failed to open (wrong key, or altered)") from None
        return opened.decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def _associated(purpose: str, owner: str, key_id: str) -> bytes:
    return f"infrai-sealed-v1\0{purpose}\0{owner}\0{key_id}".encode()


def data_folder_key(data_dir: Path) -> AesKey:
    """The installation's generated key (``data_dir/accounts-encryption.key``), created when absent.

    Processes starting together must end up with one key: it is written in full under a temporary name
    and hard-linked into place, and ``link`` fails when the name exists, so one creator wins. Its id is
    derived from the key, so a process holding another folder's key is told so by name, not by a failed
    tag.
    """
    path = data_dir / KEY_FILENAME
    secret = read_or_create_key_file(path, _KEY_BYTES)
    if len(secret) != _KEY_BYTES:
        raise ValueError(f"{path} holds {len(secret)} bytes, not {_KEY_BYTES}; it is not a key this wrote")
    return AesKey("local-" + hashlib.sha256(b"infrai-key-id\0" + secret).hexdigest()[:12], secret)
