"""The ``infrai`` command: exit codes that say what happened, ``--json`` on stdout, progress on stderr.

Most tests call ``main()`` in-process with a client on the scripted API; the last ones run the installed
console script as a real process against a loopback HTTP server.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback_api import LoopbackAPI, serve_loopback_api
from scripted_api import ScriptedAPI, job_json, problem

from infrai import Infrai
from infrai.cli import main

JOB_PATH = "/v1/video/jobs/vid_123"
GENERATE_PATH = "/v1/video/generate"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"frames" * 1000
VIDEO = {"size_bytes": len(MP4), "sha256": hashlib.sha256(MP4).hexdigest()}


class Run:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(client: Infrai, *argv: str) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), client=client, stdout=stdout, stderr=stderr)
    return Run(code, stdout.getvalue(), stderr.getvalue())


def answer(state: str, **fields: Any) -> httpx.Response:
    return httpx.Response(200, json=job_json(state=state, **fields))


@pytest.mark.parametrize(
    ("state", "code"), [("succeeded", 0), ("running", 0), ("failed", 1), ("cancelled", 3)]
)
def test_status_exit_code_follows_the_job_state(
    client: Infrai, api: ScriptedAPI, state: str, code: int
) -> None:
    api.on("GET", JOB_PATH, answer(state))
    assert run_cli(client, "video", "status", "vid_123").code == code


def test_json_goes_to_stdout_alone(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, answer("running", stage="generating", progress=40, region="eu"))
    result = run_cli(client, "video", "status", "vid_123", "--json")
    assert result.code == 0
    assert result.json()["job_id"] == "vid_123"
    assert result.json()["progress"] == 40
    assert result.json()["region"] == "eu"


def test_json_is_accepted_before_the_subcommand_too(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, answer("queued"))
    assert run_cli(client, "--json", "video", "status", "vid_123").json()["state"] == "queued"


def test_human_output_describes_the_job(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, answer("running", stage="generating"))
    result = run_cli(client, "video", "status", "vid_123")
    assert "job vid_123: running (generating)" in result.stdout
    assert "vendor   local / local-v1" in result.stdout


def test_generate_without_wait_prints_the_new_job(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    result = run_cli(client, "video", "generate", "skyline", "--resolution", "1080p", "--json")
    assert result.code == 0
    assert result.json()["state"] == "queued"
    assert json.loads(api.sent("POST", GENERATE_PATH)[0].content)["resolution"] == "1080p"


@pytest.mark.parametrize(("given", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400), ("45", 45)])
def test_generate_deadline_is_sent_as_deadline_seconds(
    client: Infrai, api: ScriptedAPI, given: str, seconds: int
) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    result = run_cli(client, "video", "generate", "skyline", "--deadline", given, "--json")
    assert result.code == 0
    assert json.loads(api.sent("POST", GENERATE_PATH)[0].content)["deadline_seconds"] == seconds


def test_generate_without_a_deadline_sends_none(client: Infrai, api: ScriptedAPI) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    run_cli(client, "video", "generate", "skyline", "--json")
    assert "deadline_seconds" not in json.loads(api.sent("POST", GENERATE_PATH)[0].content)


def test_generate_wait_out_shows_progress_and_saves_the_file(
    client: Infrai, api: ScriptedAPI, tmp_path: Path
) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    api.on(
        "GET",
        JOB_PATH,
        answer("running", stage="generating", progress=25),
        answer("running", stage="rehosting", progress=90),
        answer("succeeded", progress=100, video_url="http://api.test/media/vid_123.mp4", video=VIDEO),
    )
    api.on("GET", "/media/vid_123.mp4", httpx.Response(200, content=MP4))
    out = tmp_path / "clip.mp4"
    result = run_cli(client, "video", "generate", "skyline", "--out", str(out), "--json")
    assert result.code == 0
    assert out.read_bytes() == MP4
    assert result.json()["state"] == "succeeded"
    assert result.json()["downloaded_to"] == str(out)
    assert " 25%  running/generating" in result.stderr
    assert " 90%  running/rehosting" in result.stderr
    assert "100%  succeeded" in result.stderr


@pytest.mark.parametrize(("state", "code"), [("failed", 1), ("cancelled", 3)])
def test_generate_wait_exit_code_says_how_the_job_ended(
    client: Infrai, api: ScriptedAPI, tmp_path: Path, state: str, code: int
) -> None:
    api.on("POST", GENERATE_PATH, httpx.Response(202, json=job_json()))
    api.on("GET", JOB_PATH, answer(state))
    out = tmp_path / "clip.mp4"
    result = run_cli(client, "video", "generate", "skyline", "--wait", "--out", str(out), "--quiet")
    assert result.code == code
    assert not out.exists()
    assert result.stderr == ""  # --quiet: no progress


def test_giving_up_waiting_exits_5(client: Infrai, api: ScriptedAPI) -> None:
    api.on("GET", JOB_PATH, answer("running", progress=10))
    result = run_cli(client, "video", "wait", "vid_123", "--timeout", "0.02")
    assert result.code == 5
    assert "infrai video wait vid_123" in result.stderr


@pytest.mark.parametrize(("ok", "code"), [(True, 0), (False, 1)])
def test_cancel_exit_code(client: Infrai, api: ScriptedAPI, ok: bool, code: int) -> None:
    state = "running" if ok else "succeeded"
    api.on(
        "POST",
        JOB_PATH + "/cancel",
        httpx.Response(200, json={"ok": ok, "job_id": "vid_123", "state": state}),
    )
    result = run_cli(client, "video", "cancel", "vid_123", "--json")
    assert result.code == code
    assert result.json()["ok"] is ok


@pytest.mark.parametrize(
    ("status", "code"), [(401, "unauthorized"), (402, "insufficient_credits"), (404, "not_found")]
)
def test_api_errors_exit_4_with_the_problem_in_json(
    client: Infrai, api: ScriptedAPI, status: int, code: str
) -> None:
    api.on("POST", GENERATE_PATH, problem(status, code, "nope", **{"X-Request-Id": "req_9"}))
    result = run_cli(client, "video", "generate", "skyline", "--json")
    assert result.code == 4
    error = result.json()["error"]
    assert (error["status"], error["code"], error["detail"], error["request_id"]) == (
        status,
        code,
        "nope",
        "req_9",
    )
    assert f"error: {status} {code}: nope" in result.stderr


def test_usage_errors_exit_2(client: Infrai) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli(client, "video", "generate")
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        run_cli(client, "video", "generate", "skyline", "--resolution", "8k")
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        run_cli(client, "video", "generate", "skyline", "--deadline", "soon")
    assert caught.value.code == 2


# the installed console script, as a real process


@pytest.fixture
def loopback() -> Iterator[LoopbackAPI]:
    with serve_loopback_api() as api:
        yield api


def infrai_command(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The venv's console script, importing this checkout's SDK (the venv may have another one installed)."""
    script = Path(sys.executable).with_name("infrai")
    sdk_source = str(Path(__file__).resolve().parents[1] / "src")
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": sdk_source, **env}
    return subprocess.run([str(script), *argv], env=full_env, capture_output=True, text=True, timeout=60)


def test_console_script_reports_status_as_json(loopback: LoopbackAPI, tmp_path: Path) -> None:
    loopback.on("GET", JOB_PATH, 200, job_json(state="running", progress=5))
    env = {"INFRAI_CONFIG_DIR": str(tmp_path), "INFRAI_API_KEY": "ifr_pk_proj_cli"}
    done = infrai_command("--base-url", loopback.base_url, "video", "status", "vid_123", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["progress"] == 5
    assert loopback.requests[0].headers["Authorization"] == "Bearer ifr_pk_proj_cli"


def test_console_script_without_a_key_exits_4(loopback: LoopbackAPI, tmp_path: Path) -> None:
    env = {"INFRAI_CONFIG_DIR": str(tmp_path), "INFRAI_BASE_URL": loopback.base_url}
    done = infrai_command("video", "status", "vid_123", env=env)
    assert done.returncode == 4
    assert "infrai activate" in done.stderr
    assert loopback.requests == []


def test_console_script_usage_error_exits_2(tmp_path: Path) -> None:
    done = infrai_command("video", env={"INFRAI_CONFIG_DIR": str(tmp_path)})
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_console_script_activates_once_then_generates_and_downloads(
    loopback: LoopbackAPI, tmp_path: Path
) -> None:
    activation = {
        "project_id": "proj_9",
        "key_id": "key_9",
        "api_key": "ifr_pk_proj_9",
        "trial_credits_usd": "5.00",
    }
    loopback.on("POST", "/v1/accounts/activate", 201, activation)
    loopback.on("POST", GENERATE_PATH, 202, job_json(), {"Location": JOB_PATH})
    media_url = f"{loopback.base_url}/media/vid_123.mp4"
    loopback.on("GET", JOB_PATH, 200, job_json(state="succeeded", video_url=media_url, video=VIDEO))
    loopback.on("GET", "/media/vid_123.mp4", 200, MP4)
    env = {"INFRAI_CONFIG_DIR": str(tmp_path / "config"), "INFRAI_BASE_URL": loopback.base_url}

    first = infrai_command("activate", env=env)
    second = infrai_command("activate", env=env)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert "activated project proj_9 with $5.00 trial credits" in first.stdout
    assert "already activated" in second.stdout
    assert [r.path for r in loopback.requests].count("/v1/accounts/activate") == 1
    assert stat.S_IMODE((tmp_path / "config" / "credentials").stat().st_mode) == 0o600

    out = tmp_path / "clip.mp4"
    done = infrai_command("video", "generate", "skyline at dusk", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == MP4
    generate = next(r for r in loopback.requests if r.path == GENERATE_PATH)
    assert generate.headers["Authorization"] == "Bearer ifr_pk_proj_9"
    assert generate.headers["Idempotency-Key"]


def test_the_progress_line_shows_the_eta_and_the_vendors_queue_position(
    client: Infrai, api: ScriptedAPI
) -> None:
    queued = answer("running", stage="generating", eta_seconds=70, eta_source="catalog", queue_position=2)
    api.on(
        "GET",
        JOB_PATH,
        queued,  # read by `wait` before it starts polling
        queued,
        answer("running", stage="generating", progress=50, eta_seconds=35, eta_source="measured"),
        answer("succeeded", progress=100),
    )
    result = run_cli(client, "video", "wait", "vid_123")
    assert result.code == 0
    assert "eta ~01:10  queue #3" in result.stderr  # ~: the catalog's guess; fal's 0-based position + 1
    assert "eta 00:35" in result.stderr and "eta ~00:35" not in result.stderr
    assert "succeeded" in result.stderr and "eta" not in result.stderr.splitlines()[-1]


def test_models_lists_lifecycles_and_measured_percentiles(client: Infrai, api: ScriptedAPI) -> None:
    ray_2 = {
        "id": "luma/ray-2",
        "vendor": "luma",
        "model": "ray-2",
        "name": "Luma Ray 2",
        "available": True,
        "typical_latency_seconds": 120,
        "lifecycle": "deprecated",
        "deprecated_on": "2026-12-01",
        "retired_on": "2027-05-01",
        "successor": "ray-3.2",
        "aliases": [],
        "measured_latency": [
            {
                "resolution": "720p",
                "duration_seconds": 5,
                "samples": 12,
                "p50_seconds": 81.5,
                "p90_seconds": 140.25,
                "used_for_eta": True,
            }
        ],
    }
    ray_3 = {**ray_2, "id": "luma/ray-3.2", "model": "ray-3.2", "name": "Luma Ray 3.2", "aliases": ["ray"]}
    ray_3.update(lifecycle="active", deprecated_on=None, retired_on=None, successor=None, measured_latency=[])
    listing = {"object": "list", "catalog_updated": "2026-11-26", "data": [ray_2, ray_3]}
    api.on("GET", "/v1/video/models", httpx.Response(200, json=listing))

    models = client.video.models()
    assert models.data[0].retired_on is not None and models.data[0].successor == "ray-3.2"
    assert models.data[0].measured_latency[0].p90_seconds == 140.25
    result = run_cli(client, "models")
    assert result.code == 0
    assert "deprecated 2026-12-01, retires 2027-05-01 -> luma/ray-3.2" in result.stdout
    assert "720p 5s: p50 81.5s, p90 140.2s over 12 jobs" in result.stdout
    assert "luma/ray-3.2 (alias ray)" in result.stdout
    assert run_cli(client, "models", "--json").json()["data"][1]["aliases"] == ["ray"]
