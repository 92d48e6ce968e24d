"""Secrets the installation is given must be worth having: empty or short ones refuse to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import MIN_SECRET_CHARS, Settings
from devstack.stack import EmbeddedStack
from workflows.encryption import new_key_entry

SECRET_SETTINGS = ["INFRAI_CODEC_OPERATOR_TOKEN", "INFRAI_MEDIA_SIGNING_SECRET"]


@pytest.mark.parametrize("variable", SECRET_SETTINGS)
@pytest.mark.parametrize("value", ["", "   ", "short-but-not-empty", "x" * (MIN_SECRET_CHARS - 1)])
def test_an_empty_or_short_secret_refuses_to_start_and_says_why(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as refused:
        Settings()

    message = str(refused.value)
    assert f"{variable} must be at least {MIN_SECRET_CHARS} characters" in message
    if value.strip():
        assert value not in message  # the refused secret is never echoed


@pytest.mark.parametrize("variable", SECRET_SETTINGS)
def test_a_long_enough_secret_or_none_at_all_starts(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().codec_operator_token is None and Settings().media_signing_secret is None
    monkeypatch.setenv(variable, "k" * MIN_SECRET_CHARS)

    settings = Settings()

    field = variable.removeprefix("INFRAI_").lower()
    assert getattr(settings, field).get_secret_value() == "k" * MIN_SECRET_CHARS


def test_the_launcher_makes_up_a_codec_token_its_children_accept(tmp_path: Path) -> None:
    stack = EmbeddedStack(Settings(data_dir=tmp_path, payload_encryption_keys=new_key_entry("k1")))

    token = stack._child_env()["INFRAI_CODEC_OPERATOR_TOKEN"]

    assert Settings(codec_operator_token=token).codec_operator_token is not None
