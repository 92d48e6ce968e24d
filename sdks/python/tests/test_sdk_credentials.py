"""Where the key and base URL come from, and the credentials file that activate() writes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from scripted_api import BASE_URL, ScriptedAPI, job_json, keyless_client

import infrai
from infrai import Infrai, MissingAPIKeyError
from infrai.credentials import DEFAULT_BASE_URL, read_credentials

JOB_PATH = "/v1/video/jobs/vid_123"
ACTIVATE_PATH = "/v1/accounts/activate"
ACTIVATION = {
    "project_id": "proj_1",
    "key_id": "key_1",
    "api_key": "ifr_pk_proj_fresh",
    "balance_usd": "5.00",
    "trial_credits_usd": "5.00",
}


def bearer_sent(api: ScriptedAPI) -> str:
    return api.requests[-1].headers["Authorization"]


def write_ini(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[default]\napi_key = {key}\nproject_id = proj_saved\n")


@pytest.fixture
def answering(api: ScriptedAPI) -> ScriptedAPI:
    api.on("GET", JOB_PATH, httpx.Response(200, json=job_json()))
    api.on("POST", ACTIVATE_PATH, httpx.Response(201, json=ACTIVATION))
    return api


def test_the_argument_beats_the_environment_and_the_file(
    answering: ScriptedAPI, isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini(isolated_config / "credentials", "key_from_file")
    monkeypatch.setenv("INFRAI_API_KEY", "key_from_env")
    keyless_client(answering, api_key="key_from_argument").video.status("vid_123")
    assert bearer_sent(answering) == "Bearer key_from_argument"


def test_the_environment_beats_the_file(
    answering: ScriptedAPI, isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini(isolated_config / "credentials", "key_from_file")
    monkeypatch.setenv("INFRAI_API_KEY", "key_from_env")
    keyless_client(answering).video.status("vid_123")
    assert bearer_sent(answering) == "Bearer key_from_env"


def test_the_file_is_the_last_resort(answering: ScriptedAPI, isolated_config: Path) -> None:
    write_ini(isolated_config / "credentials", "key_from_file")
    keyless_client(answering).video.status("vid_123")
    assert bearer_sent(answering) == "Bearer key_from_file"


def test_a_json_credentials_file_is_read_too(answering: ScriptedAPI, isolated_config: Path) -> None:
    isolated_config.mkdir()
    (isolated_config / "credentials").write_text(json.dumps({"api_key": "key_from_json"}))
    keyless_client(answering).video.status("vid_123")
    assert bearer_sent(answering) == "Bearer key_from_json"


def test_home_is_used_when_no_config_dir_is_set(
    answering: ScriptedAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFRAI_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_ini(tmp_path / "home" / ".infrai" / "credentials", "key_in_home")
    keyless_client(answering).video.status("vid_123")
    assert bearer_sent(answering) == "Bearer key_in_home"


def test_no_key_anywhere_raises_before_sending(answering: ScriptedAPI) -> None:
    sdk = keyless_client(answering)  # building the client needs no key
    with pytest.raises(MissingAPIKeyError, match="infrai activate"):
        sdk.video.status("vid_123")
    assert answering.requests == []


def test_base_url_argument_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Infrai().base_url == DEFAULT_BASE_URL == "http://127.0.0.1:8000"
    monkeypatch.setenv("INFRAI_BASE_URL", "http://env.test:9000/")
    assert Infrai().base_url == "http://env.test:9000"
    assert Infrai(base_url="http://arg.test").base_url == "http://arg.test"


def test_activate_writes_a_0600_credentials_file(answering: ScriptedAPI, isolated_config: Path) -> None:
    activation = keyless_client(answering).accounts.activate()
    assert activation.created is True
    assert activation.get("trial_credits_usd") == activation.trial_credits_usd
    path = isolated_config / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_config.stat().st_mode) == 0o700
    saved = read_credentials(path)
    assert saved == {
        "api_key": "ifr_pk_proj_fresh",
        "project_id": "proj_1",
        "key_id": "key_1",
        "base_url": BASE_URL,
    }
    assert "Authorization" not in answering.sent("POST", ACTIVATE_PATH)[0].headers
    assert list(isolated_config.iterdir()) == [path]  # no temporary file left behind


def test_activate_again_reuses_the_saved_key_without_a_second_account(
    answering: ScriptedAPI, isolated_config: Path
) -> None:
    keyless_client(answering).accounts.activate()
    again = keyless_client(answering).accounts.activate()
    assert again.created is False
    assert again.api_key == "ifr_pk_proj_fresh"
    assert again["project_id"] == "proj_1"
    assert len(answering.sent("POST", ACTIVATE_PATH)) == 1


def test_activate_with_force_makes_a_new_account(answering: ScriptedAPI, isolated_config: Path) -> None:
    write_ini(isolated_config / "credentials", "key_old")
    activation = keyless_client(answering).accounts.activate(force=True)
    assert activation.created is True
    assert len(answering.sent("POST", ACTIVATE_PATH)) == 1
    assert read_credentials(isolated_config / "credentials")["api_key"] == "ifr_pk_proj_fresh"


def test_the_client_uses_the_key_it_just_activated(answering: ScriptedAPI) -> None:
    sdk = keyless_client(answering)
    sdk.accounts.activate()
    sdk.video.status("vid_123")
    assert bearer_sent(answering) == "Bearer ifr_pk_proj_fresh"


def test_module_level_ai_and_infra_share_one_lazily_built_client(answering: ScriptedAPI) -> None:
    infrai.set_default_client(keyless_client(answering))
    try:
        infrai.infra.activate()
        job = infrai.ai.video.status(id="vid_123")
    finally:
        infrai.set_default_client(None)
    assert job.get("job_id") == "vid_123"
    assert bearer_sent(answering) == "Bearer ifr_pk_proj_fresh"


def test_importing_the_sdk_builds_no_client_and_reads_no_file(tmp_path: Path) -> None:
    # A credentials "file" that is a folder makes any read of it fail: importing, and even touching
    # ai.video (which builds the client), must not read it; the first authenticated call would.
    (tmp_path / "config" / "credentials").mkdir(parents=True)
    script = (
        "import infrai, infrai.shared_client as d\n"
        "assert d._client is None\n"
        "infrai.ai.video\n"
        "assert d._client is not None\n"
        "print(d._client.base_url)\n"
    )
    env = {"INFRAI_CONFIG_DIR": str(tmp_path / "config"), "INFRAI_BASE_URL": "http://lazy.test", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://lazy.test"
