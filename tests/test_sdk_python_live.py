"""The Python SDK (``infrai``) and its CLI against the real service: the session ``stack`` (API on
uvicorn, Temporal, worker, local vendor) and, for ``402``, the ``priced_stack``.

The module activates one anonymous project the way a user does — ``infra.activate()`` with a temporary
``HOME`` — and the module-level ``ai`` then finds that key in ``~/.infrai/credentials``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from infrai import (
    Activation,
    AsyncInfrai,
    AuthenticationError,
    ConflictError,
    Infrai,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PollPacing,
    VideoJob,
    ai,
    infra,
    set_default_client,
)

from tests.fixtures.priced_stack import PRICED_TRIAL_CREDITS_USD, PRICED_VENDOR
from tests.fixtures.stack import Stack
from tests.mp4_probe import probe_mp4

REPO = Path(__file__).resolve().parents[1]
SDK_SOURCE = REPO / "sdks" / "python" / "src"
WAIT_SECONDS = 120.0
# Polls a little faster than the SDK's default (1 s growing to 10 s) so short test jobs are seen promptly.
QUICK_POLLS = PollPacing(interval=0.3, max_interval=1.0)
UNKNOWN_JOB = "vid_" + "0" * 26


@dataclass
class Activated:
    home: Path
    activation: Activation

    @property
    def api_key(self) -> str:
        return self.activation.api_key

    @property
    def credentials(self) -> Path:
        return self.home / ".infrai" / "credentials"


@pytest.fixture(scope="module")
def activated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Activated]:
    """A fresh project made by ``infra.activate()``; ``ai`` and ``infra`` point at the session stack."""
    home = tmp_path_factory.mktemp("sdk-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.delenv("INFRAI_CONFIG_DIR", raising=False)
        env.delenv("INFRAI_API_KEY", raising=False)
        env.setenv("INFRAI_BASE_URL", stack.api_url)
        set_default_client(None)  # built again from this environment on first use
        try:
            yield Activated(home, infra.activate())
        finally:
            set_default_client(None)


@pytest.fixture
def client(live_stack: Stack, activated: Activated) -> Iterator[Infrai]:
    with Infrai(api_key=activated.api_key, base_url=live_stack.api_url, poll_pacing=QUICK_POLLS) as sdk:
        yield sdk


def wait_until(client: Infrai, job_id: str, predicate: Callable[[VideoJob], bool]) -> VideoJob:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        job = client.video.status(job_id)
        if predicate(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def assert_playable(path: Path, job: VideoJob, *, width: int, height: int, seconds: int) -> None:
    assert job.video is not None
    data = path.read_bytes()
    assert len(data) == job.video.size_bytes
    assert hashlib.sha256(data).hexdigest() == job.video.sha256
    video = probe_mp4(path)
    assert video["codec"] == "h264"
    assert (video["width"], video["height"]) == (width, height) == (job.video.width, job.video.height)
    assert video["frames"] == 24 * seconds == job.video.frame_count
    assert video["duration"] == pytest.approx(seconds, abs=0.1)


# -- activate, generate, wait, download --------------------------------------------------------------------


def test_activate_saves_the_key_privately_and_is_not_repeated(activated: Activated) -> None:
    assert activated.activation.created is True
    assert activated.activation.trial_credits_usd == Decimal("5.00")
    assert activated.api_key.startswith("ifr_pk_")
    assert stat.S_IMODE(activated.credentials.stat().st_mode) == 0o600
    assert activated.api_key in activated.credentials.read_text()
    again = infra.activate()
    assert again.created is False and again.api_key == activated.api_key
    account = infra.account()
    assert account.project_id == activated.activation.project_id
    assert account.usage is not None and account.usage.charged_usd == 0  # the local vendor is free
    assert [key["key_id"] for key in account["keys"]] == [activated.activation.key_id]


def test_ai_video_generate_wait_download_gives_a_playable_mp4(
    live_stack: Stack, activated: Activated, tmp_path: Path
) -> None:
    job = ai.video.generate("a timelapse of a city skyline at dusk", duration_seconds=1, aspect="16:9")
    assert job.get("state") in ("queued", "running") and job["job_id"].startswith("vid_")
    assert job.vendor == "local" and job.cost is not None and job.cost.estimated_usd == 0
    done = ai.video.wait(job["job_id"], timeout=WAIT_SECONDS)
    assert done.state == "succeeded", done.to_dict()
    assert done.finished_at is not None and done.progress == 100
    saved = ai.video.download(done.job_id, tmp_path)
    assert saved == tmp_path / f"{done.job_id}.mp4"
    assert_playable(saved, done, width=1280, height=720, seconds=1)


async def test_async_generate_with_wait_returns_the_finished_job(
    live_stack: Stack, activated: Activated, tmp_path: Path
) -> None:
    options = {"api_key": activated.api_key, "base_url": live_stack.api_url, "poll_pacing": QUICK_POLLS}
    async with AsyncInfrai(**options) as sdk:
        job = await sdk.video.generate("a paper lantern rising", duration_seconds=1, aspect="1:1", wait=True)
        assert job.state == "succeeded", job.to_dict()
        assert job.video_url and job.thumbnail_url
        saved = await sdk.video.download(job.job_id, tmp_path / "lantern.mp4")
    assert_playable(saved, job, width=720, height=720, seconds=1)


def test_cancel_mid_job_ends_cancelled_and_unbilled(client: Infrai) -> None:
    job = client.video.generate("a long slow sunrise over the sea", duration_seconds=30)
    generating = wait_until(client, job.job_id, lambda j: j.stage == "generating" or j.is_final)
    assert generating.stage == "generating" and not generating.is_final, generating.to_dict()
    cancelled = client.video.cancel(id=job.job_id)
    assert cancelled.get("ok") is True and cancelled.job_id == job.job_id
    final = client.video.wait(job.job_id, timeout=WAIT_SECONDS)
    assert final.state == "cancelled"
    assert final.error is not None and final.error.code == "cancelled" and final.error.billed is False
    assert final.cost is not None and final.cost.settled_usd == 0
    assert client.video.cancel(id=job.job_id).ok is True  # already cancelled: still ok


def test_ai_video_generate_sends_a_deadline_and_the_job_reports_it(
    live_stack: Stack, activated: Activated
) -> None:
    job = ai.video.generate("a koi pond at dawn", duration_seconds=1, deadline_seconds=3600)
    assert job.deadline_at is not None and job.created_at is not None
    assert (job.deadline_at - job.created_at).total_seconds() == 3600
    done = ai.video.wait(job.job_id, timeout=WAIT_SECONDS)
    assert done.state == "succeeded" and done.deadline_at is not None and done.finished_at is not None
    assert done.finished_at < done.deadline_at
    with pytest.raises(InvalidRequestError) as caught:
        ai.video.generate("a koi pond at dawn", duration_seconds=1, deadline_seconds=2)
    assert caught.value.status == 422


def test_models_carry_lifecycles_and_measured_times_after_a_job(client: Infrai) -> None:
    job = client.video.generate("a paper boat", duration_seconds=1, vendor="local", wait=True)
    assert job.state == "succeeded" and job.eta_seconds is None  # a final job has no ETA
    models = {model.id: model for model in client.video.models().data}
    assert models["luma/ray-2"].successor == "ray-3.2" and models["luma/ray-2"].retired_on is not None
    assert "ray" in models["luma/ray-3.2"].aliases
    deadline = time.monotonic() + 90  # the API re-reads the measured times every INFRAI_ETA_CACHE_SECONDS
    while True:
        local = next(m for m in client.video.models().data if m.id == "local/local-preview")
        bucket = next(
            (m for m in local.measured_latency if (m.resolution, m.duration_seconds) == ("720p", 1)), None
        )
        if bucket is not None or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert bucket is not None and bucket.samples >= 1 and 0 < bucket.p50_seconds <= bucket.p90_seconds


# -- errors mapped to the exception tree -------------------------------------------------------------------


def test_unknown_job_is_not_found(client: Infrai) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.video.status(id=UNKNOWN_JOB)
    assert caught.value.status == 404 and caught.value.code == "not_found"
    assert caught.value.request_id


def test_another_projects_job_is_not_found(live_stack: Stack, client: Infrai) -> None:
    theirs = live_stack.generate(prompt="someone else's video").json()["job_id"]  # the dev project's
    with pytest.raises(NotFoundError):
        client.video.status(id=theirs)
    with pytest.raises(NotFoundError):
        client.video.cancel(id=theirs)


def test_a_bad_key_is_an_authentication_error(live_stack: Stack) -> None:
    stranger = Infrai(api_key="ifr_pk_proj_not_a_real_key", base_url=live_stack.api_url)
    with stranger, pytest.raises(AuthenticationError) as caught:
        stranger.video.generate("a kite")
    assert caught.value.status == 401 and caught.value.code == "unauthorized"


def test_an_idempotency_key_returns_its_job_and_refuses_another_body(client: Infrai) -> None:
    key = f"sdk-live-{time.time_ns()}"
    first = client.video.generate("a koi pond", duration_seconds=1, idempotency_key=key)
    again = client.video.generate("a koi pond", duration_seconds=1, idempotency_key=key)
    assert again.job_id == first.job_id
    with pytest.raises(ConflictError) as caught:
        client.video.generate("a different pond", duration_seconds=1, idempotency_key=key)
    assert caught.value.status == 409 and caught.value.code == "idempotency_conflict"
    assert caught.value.problem["job_id"] == first.job_id


def test_a_job_the_trial_cannot_pay_for_is_insufficient_credits(priced_stack: Stack, tmp_path: Path) -> None:
    with Infrai(base_url=priced_stack.api_url, credentials_file=tmp_path / "credentials") as sdk:
        activation = sdk.accounts.activate()
        assert activation.trial_credits_usd == Decimal(PRICED_TRIAL_CREDITS_USD)
        with pytest.raises(InsufficientCreditsError) as caught:
            sdk.video.generate("a horse on a beach", vendor=PRICED_VENDOR, duration_seconds=5)
        assert sdk.accounts.retrieve().held_usd == 0  # nothing was held for the refused job
    assert caught.value.status == 402 and caught.value.code == "insufficient_credits"
    assert Decimal(caught.value.problem["required_usd"]) > Decimal(PRICED_TRIAL_CREDITS_USD)
    # Money in a problem is formatted as everywhere else in the API ("0.10", not "0.100000").
    assert caught.value.problem["available_usd"] == PRICED_TRIAL_CREDITS_USD


# -- the CLI, as a real process ----------------------------------------------------------------------------


def infrai_cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed console script, running this checkout's SDK (the venv's install may be another's)."""
    script = Path(sys.executable).with_name("infrai")
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SDK_SOURCE), **env}
    return subprocess.run([str(script), *argv], env=full_env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def cli_env(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose credentials the CLI itself made with ``infrai activate``."""
    config = tmp_path_factory.mktemp("cli-config")
    env = {"INFRAI_CONFIG_DIR": str(config), "INFRAI_BASE_URL": stack.api_url}
    done = infrai_cli("activate", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["api_key"] in (config / "credentials").read_text()
    return env


def test_cli_generate_wait_out_saves_a_playable_mp4_then_cancel_exits_1(
    live_stack: Stack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    done = infrai_cli(
        "video", "generate", "a lighthouse at night", "--duration", "1", "--aspect", "9:16",
        "--wait", "--out", str(out), "--json", env=cli_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = VideoJob.model_validate(json.loads(done.stdout))
    assert job.state == "succeeded" and job["downloaded_to"] == str(out)
    assert "succeeded" in done.stderr and "100%" in done.stderr  # the progress line
    assert_playable(out, job, width=720, height=1280, seconds=1)
    too_late = infrai_cli("video", "cancel", job.job_id, "--json", env=cli_env)
    assert too_late.returncode == 1  # a finished job cannot be cancelled
    assert json.loads(too_late.stdout) == {"ok": False, "job_id": job.job_id, "state": "succeeded"}


def test_cli_exit_codes_say_how_a_job_ended(live_stack: Stack, cli_env: dict[str, str]) -> None:
    # Long enough to be still generating when the cancel lands: a cancel after the vendor made the video
    # delivers it instead (succeeded), and a loaded machine starts each CLI process slowly.
    started = infrai_cli("video", "generate", "a candle flame", "--duration", "30", "--json", env=cli_env)
    assert started.returncode == 0, started.stderr
    job_id = json.loads(started.stdout)["job_id"]
    cancelled = infrai_cli("video", "cancel", job_id, "--json", env=cli_env)
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["ok"] is True, cancelled.stderr
    waited = infrai_cli("video", "wait", job_id, "--json", "--quiet", env=cli_env)
    assert waited.returncode == 3, waited.stderr  # cancelled
    assert json.loads(waited.stdout)["state"] == "cancelled"


def test_cli_api_errors_exit_4_with_the_problem_on_stdout(live_stack: Stack, cli_env: dict[str, str]) -> None:
    missing = infrai_cli("video", "status", UNKNOWN_JOB, "--json", env=cli_env)
    assert missing.returncode == 4
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    bad_key = infrai_cli("--api-key", "ifr_pk_proj_nope", "video", "status", UNKNOWN_JOB, env=cli_env)
    assert bad_key.returncode == 4 and "unauthorized" in bad_key.stderr
