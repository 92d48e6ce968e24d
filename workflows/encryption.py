"""Payload encryption: an AES-GCM Temporal payload codec with rotating keys.

Prompts and reference images are customer data, and Temporal stores every workflow and activity input,
result, heartbeat, query answer, memo and (with encoded failure attributes) error message. With
``INFRAI_PAYLOAD_ENCRYPTION_KEYS`` set, all of them reach the Temporal server encrypted; only our API,
worker and the codec endpoint (``api/codec_server.py``) hold the keys.

Keys: ``id:base64key[,id:base64key...]`` with 16-, 24- or 32-byte AES keys. The first key encrypts; every
listed key decrypts, found by the key id in the payload's metadata — so rotating is "put a new key first,
keep the old ones until no open or retained workflow needs them". Search attributes are never encrypted
(the server indexes them), which is why they hold only project, vendor, model and state.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from core.keys import AesKey, parse_key_setting
from core.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload could not be decrypted: its key is not configured, or it was tampered with."""


def parse_keys(value: str) -> list[AesKey]:
    """``INFRAI_PAYLOAD_ENCRYPTION_KEYS`` as keys, current first (the format is ``core/keys.py``'s)."""
    return parse_key_setting(value, "INFRAI_PAYLOAD_ENCRYPTION_KEYS")


def new_key_entry(key_id: str) -> str:
    """A fresh ``id:base64key`` entry (256-bit), for operators rotating keys."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


class EncryptionCodec(PayloadCodec):
    """Encrypts each payload whole (its metadata included) with the current key; decrypts with any key."""

    def __init__(self, keys: Sequence[AesKey]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._current = keys[0]
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._current.key_id.encode()
        cipher = self._ciphers[self._current.key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            # The key id is authenticated too: moving a ciphertext under another id fails to decrypt.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(payload) for payload in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was turned on
        key_id = payload.metadata.get(KEY_ID_METADATA, b"")
        cipher = self._ciphers.get(key_id.decode("utf-8", "replace"))
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id.decode('utf-8', 'replace')[:64]!r}, which is not "
                "configured (INFRAI_PAYLOAD_ENCRYPTION_KEYS)"
            )
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, key_id))
        except InvalidTag:
            raise PayloadDecryptionError("payload failed authentication (wrong key or tampered)") from None


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The encryption codec when ``INFRAI_PAYLOAD_ENCRYPTION_KEYS`` is set."""
    if settings.payload_encryption_keys is None:
        return None
    return EncryptionCodec(parse_keys(settings.payload_encryption_keys.get_secret_value()))


def with_encryption(converter: DataConverter, settings: Settings) -> DataConverter:
    """``converter`` with the codec when encryption is on. Failure messages and stack traces then move into
    an encoded payload too (Temporal keeps them in plain text otherwise): an error can quote the input."""
    codec = payload_codec(settings)
    if codec is None:
        return converter
    return dataclasses.replace(
        converter, payload_codec=codec, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
    )
