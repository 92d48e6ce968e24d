"""Object keys that cannot escape the root, HMAC media signatures, and the per-installation signing key."""

from __future__ import annotations

import multiprocessing
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from storage import (
    InvalidObjectKeyError,
    LocalMediaStorage,
    MediaSignatureStatus,
    build_storage,
    sign_media_path,
    validate_key,
    verify_media_signature,
)
from storage.signing import SIGNING_KEY_BYTES, SIGNING_KEY_FILENAME, load_or_create_signing_key

SECRET = b"s" * 32


@pytest.mark.parametrize(
    "key",
    ["video.mp4", "videos/proj_1/vid_abc/video.mp4", "a-b_c.d/e", "A/B/C", "x" * 200, "v1.2/clip.final.mp4"],
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs/path.mp4",
        "../up.mp4",
        "a/../b",
        "a/..",
        "a..b",
        "./a",
        "a/./b",
        ".hidden",
        "a/.sidecar.meta.json",
        "a//b",
        "a/",
        "a\\b",
        "a b",
        "a\nb",
        "a/b\x00",
        "ä",
        "a%2F..",
        "x" * 201,
        "/".join(["abcd"] * 300),
    ],
)
def test_dangerous_or_odd_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidObjectKeyError):
        validate_key(key)


def test_local_key_cannot_escape_the_root_through_a_planted_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = LocalMediaStorage(tmp_path / "media", public_base_url="http://x", signing_secret=SECRET)
    (storage.root / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidObjectKeyError):
        storage.local_path("link/secret.txt")


def test_signature_verifies_until_expiry() -> None:
    exp = int(time.time()) + 60
    sig = sign_media_path("videos/a.mp4", exp, SECRET)

    assert verify_media_signature("videos/a.mp4", exp, sig, SECRET) is MediaSignatureStatus.VALID
    assert verify_media_signature("videos/a.mp4", exp, sig, SECRET, now=exp) is MediaSignatureStatus.EXPIRED


@pytest.mark.parametrize(
    ("key", "exp_delta", "sig_edit", "secret"),
    [
        ("videos/b.mp4", 0, None, SECRET),  # another key
        ("videos/a.mp4", 3600, None, SECRET),  # a later expiry
        ("videos/a.mp4", 0, "flip", SECRET),  # an edited signature
        ("videos/a.mp4", 0, "short", SECRET),  # a truncated signature
        ("videos/a.mp4", 0, "junk", SECRET),  # not hex at all
        ("videos/a.mp4", 0, None, b"t" * 32),  # another installation's secret
    ],
)
def test_tampered_urls_are_invalid_even_when_expired(
    key: str, exp_delta: int, sig_edit: str | None, secret: bytes
) -> None:
    exp = int(time.time()) - 10  # long expired: tampering must still read as invalid, not expired
    sig = sign_media_path("videos/a.mp4", exp, SECRET)
    if sig_edit == "flip":
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif sig_edit == "short":
        sig = sig[:-2]
    elif sig_edit == "junk":
        sig = "ü" * 64

    status = verify_media_signature(key, exp + exp_delta, sig, secret)

    assert status is MediaSignatureStatus.INVALID


def test_signing_key_is_created_private_and_then_reused(tmp_path: Path) -> None:
    first = load_or_create_signing_key(tmp_path / "data")

    path = tmp_path / "data" / SIGNING_KEY_FILENAME
    assert len(first) == SIGNING_KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_signing_key(tmp_path / "data") == first
    assert [p.name for p in path.parent.iterdir()] == [SIGNING_KEY_FILENAME]  # no temp files left


def _load_key_in_child(data_dir: str, start: Any) -> bytes:
    start.wait()
    return load_or_create_signing_key(Path(data_dir))


def test_processes_starting_together_agree_on_one_signing_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(6) as pool:
            results = [pool.apply_async(_load_key_in_child, (str(tmp_path), start)) for _ in range(12)]
            start.set()
            keys = {result.get(timeout=60) for result in results}

    assert keys == {(tmp_path / SIGNING_KEY_FILENAME).read_bytes()}


def test_build_storage_uses_the_configured_secret(tmp_path: Path) -> None:
    configured = "configured-" + "c" * 32
    storage = build_storage(Settings(data_dir=tmp_path, media_signing_secret=configured))
    assert isinstance(storage, LocalMediaStorage)

    url = storage.signed_url("a.mp4", 60)

    exp = int(url.split("exp=")[1].split("&")[0])
    assert url.endswith(f"sig={sign_media_path('a.mp4', exp, configured.encode())}")
    assert not (tmp_path / SIGNING_KEY_FILENAME).exists()


def test_build_storage_derives_a_stable_secret_when_none_is_configured(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, media_signing_secret=None, public_base_url="https://api.example.test/"
    )
    first = build_storage(settings)
    second = build_storage(settings)  # e.g. the worker, or the API after a restart
    assert isinstance(first, LocalMediaStorage) and isinstance(second, LocalMediaStorage)

    url = first.signed_url("videos/a.mp4", 60)

    assert url.startswith("https://api.example.test/v1/media/videos/a.mp4?exp=")
    exp = int(url.split("exp=")[1].split("&")[0])
    sig = url.split("sig=")[1]
    assert second.verify_signature("videos/a.mp4", exp, sig) is MediaSignatureStatus.VALID
    assert first.root == (tmp_path / "media").resolve()
