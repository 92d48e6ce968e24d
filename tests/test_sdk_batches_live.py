"""Batches through the Python SDK and the ``infrai batch`` CLI, against the session ``stack``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from infrai import AsyncInfrai, Infrai, NotFoundError, PollPacing, VideoBatch, set_default_client

from tests.fixtures.stack import Stack

SDK_SOURCE = Path(__file__).resolve().parents[1] / "sdks" / "python" / "src"
QUICK_POLLS = PollPacing(interval=0.3, max_interval=1.0)


@pytest.fixture
def project_key(live_stack: Stack) -> str:
    key, _ = live_stack.new_project()
    return key


@pytest.fixture
def client(live_stack: Stack, project_key: str) -> Iterator[Infrai]:
    with Infrai(api_key=project_key, base_url=live_stack.api_url, poll_pacing=QUICK_POLLS) as sdk:
        yield sdk


def test_ai_video_generate_batch_returns_a_dict_like_batch_that_waits(client: Infrai) -> None:
    set_default_client(client)
    try:
        from infrai import ai

        batch = ai.video.generate_batch(
            [{"prompt": "sdk item one", "duration_seconds": 1}, {"prompt": "two"}]
        )
    finally:
        set_default_client(None)

    assert isinstance(batch, VideoBatch) and batch["batch_id"].startswith("bat_")
    assert [item["index"] for item in batch["items"]] == [0, 1]
    done = batch.wait(timeout=120)
    assert done.state == "completed" and done["counts"]["succeeded"] == 2
    assert [job.state for job in done.jobs] == ["succeeded", "succeeded"]
    assert client.video.status(done.jobs[0].job_id).video_url  # an item is an ordinary job


async def test_async_generate_batch_wait_and_cancel(live_stack: Stack, project_key: str) -> None:
    async with AsyncInfrai(api_key=project_key, base_url=live_stack.api_url, poll_pacing=QUICK_POLLS) as sdk:
        batch = await sdk.video.generate_batch(
            [{"prompt": f"a slow async tide {n}", "duration_seconds": 30} for n in range(2)]
        )
        cancelled = await sdk.video.cancel_batch(batch.batch_id)
        done = await cancelled.wait(timeout=120)

    assert done.counts.cancelled == 2 and done.state == "completed"


def test_another_projects_batch_is_not_found(live_stack: Stack, client: Infrai) -> None:
    batch = client.video.generate_batch([{"prompt": "private batch", "duration_seconds": 1}])
    other_key, _ = live_stack.new_project()

    with Infrai(api_key=other_key, base_url=live_stack.api_url) as other, pytest.raises(NotFoundError):
        other.video.batch(batch.batch_id)


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("infrai")
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SDK_SOURCE), **env}
    return subprocess.run([str(script), *argv], env=full_env, capture_output=True, text=True, timeout=180)


def test_cli_batch_starts_one_job_per_line_and_waits(
    live_stack: Stack, project_key: str, tmp_path: Path
) -> None:
    lines = tmp_path / "prompts.jsonl"
    lines.write_text(
        '{"prompt": "cli one", "duration_seconds": 1}\n\n{"prompt": "cli two", "duration_seconds": 1}\n'
    )
    env = {"INFRAI_API_KEY": project_key, "INFRAI_BASE_URL": live_stack.api_url}

    done = _cli("batch", str(lines), "--wait", "--json", env=env)

    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout)
    assert batch["state"] == "completed" and batch["counts"]["succeeded"] == 2


def test_cli_batch_names_a_line_that_is_not_json(live_stack: Stack, project_key: str, tmp_path: Path) -> None:
    lines = tmp_path / "broken.jsonl"
    lines.write_text('{"prompt": "fine"}\n{"prompt": \n')
    env = {"INFRAI_API_KEY": project_key, "INFRAI_BASE_URL": live_stack.api_url}

    done = _cli("batch", str(lines), env=env)

    assert done.returncode == 2 and f"{lines}:2" in done.stderr
