"""The AES-GCM payload codec and its key list, on their own (the end-to-end story is in
test_payload_encryption.py)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from core.settings import Settings
from devstack.stack import EmbeddedStack
from devstack.temporal_server import dev_server
from workflows.connection import data_converter
from workflows.encryption import ENCODING, EncryptionCodec, PayloadDecryptionError, parse_keys

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"prompt": "a secret garden"}')


def _entry(key_id: str, size: int = 32) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(size)).decode()}"


async def test_payloads_round_trip_and_hide_their_content() -> None:
    codec = EncryptionCodec(parse_keys(_entry("k1")))
    [sealed] = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING and b"secret" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]
    [again] = await codec.encode([PLAIN])
    assert again.data != sealed.data  # a fresh nonce every time


async def test_old_keys_decrypt_and_only_the_first_encrypts() -> None:
    old, new = _entry("k1"), _entry("k2")
    [by_old] = await EncryptionCodec(parse_keys(old)).encode([PLAIN])
    rotated = EncryptionCodec(parse_keys(f"{new},{old}"))
    [by_new] = await rotated.encode([PLAIN])
    assert by_new.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([by_old, by_new]) == [PLAIN, PLAIN]
    with pytest.raises(PayloadDecryptionError, match="k2"):
        await EncryptionCodec(parse_keys(old)).decode([by_new])


async def test_tampering_and_a_swapped_key_id_fail_authentication() -> None:
    codec = EncryptionCodec(parse_keys(f"{_entry('k1')},{_entry('k2')}"))
    [sealed] = await codec.encode([PLAIN])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata["encryption-key-id"] = b"k2"
    for bad in (flipped, relabelled):
        with pytest.raises(PayloadDecryptionError):
            await codec.decode([bad])


async def test_plain_payloads_from_before_encryption_pass_through() -> None:
    assert await EncryptionCodec(parse_keys(_entry("k1"))).decode([PLAIN]) == [PLAIN]


@pytest.mark.parametrize(
    "value",
    ["", "nokey", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode(), "bad id:" + "A" * 44],
)
def test_bad_key_settings_are_refused_without_echoing_the_key(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_keys(value)
    secret = value.partition(":")[2]
    assert not secret or secret not in str(refused.value)


def test_a_key_id_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_keys(f"{_entry('k1')},{_entry('k1')}")


def test_the_key_setting_never_shows_in_settings_repr() -> None:
    entry = _entry("k1")
    token = "op-token-" + "t" * 32
    settings = Settings(payload_encryption_keys=entry, codec_operator_token=token)
    assert entry.partition(":")[2] not in repr(settings) and token not in repr(settings)
    assert data_converter(settings).payload_codec is not None
    assert data_converter(Settings()).payload_codec is None


def test_the_launcher_points_the_ui_at_the_codec_endpoint_when_encrypting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, payload_encryption_keys=_entry("k1"), api_port=8123)
    stack = EmbeddedStack(settings)
    endpoint = stack.ui_codec_endpoint()
    assert endpoint is not None and endpoint.startswith("http://127.0.0.1:8123/codec/")
    assert stack._child_env()["INFRAI_CODEC_OPERATOR_TOKEN"] == endpoint.rsplit("/", 1)[1]
    argv = dev_server(
        tmp_path / "t.db", host="127.0.0.1", port=7233, ui_port=8233, ui_codec_endpoint=endpoint
    ).argv
    assert argv[argv.index("--ui-codec-endpoint") + 1] == endpoint
    assert EmbeddedStack(Settings(data_dir=tmp_path)).ui_codec_endpoint() is None
