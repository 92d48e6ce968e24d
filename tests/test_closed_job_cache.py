"""The API keeps closed jobs' final snapshots in memory: what it keeps, for how long, and that a job deleted
through another API process is gone from this one's answers at once."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.models import JobCost, JobSnapshot, JobState
from devstack.processes import ManagedProcess
from jobs.closed_cache import ClosedJobCache
from tests.fixtures.ports import free_port, wait_for_http
from tests.fixtures.stack import REPO, Stack


def _snapshot(job_id: str, state: JobState = JobState.SUCCEEDED) -> JobSnapshot:
    return JobSnapshot(
        job_id=job_id,
        project_id="proj_test",
        state=state,
        created_at=datetime.now(UTC),
        cost=JobCost(estimated_usd=Decimal("0.50")),
    )


def test_a_final_snapshot_is_kept_and_handed_out_as_a_copy() -> None:
    cache = ClosedJobCache()
    cache.put(_snapshot("vid_a"))
    first = cache.get("vid_a")
    assert first is not None and first.state is JobState.SUCCEEDED
    first.progress = 7  # a caller adjusting what it presents must not change the kept snapshot
    second = cache.get("vid_a")
    assert second is not None and second.progress is None


def test_only_final_snapshots_are_kept() -> None:
    with pytest.raises(ValueError, match="final"):
        ClosedJobCache().put(_snapshot("vid_b", JobState.RUNNING))


def test_entries_expire() -> None:
    cache = ClosedJobCache(ttl_seconds=0.05)
    cache.put(_snapshot("vid_c"))
    time.sleep(0.1)
    assert cache.get("vid_c") is None
    assert len(cache) == 0


def test_the_least_recently_read_entry_goes_first_when_full() -> None:
    cache = ClosedJobCache(max_entries=2)
    cache.put(_snapshot("vid_1"))
    cache.put(_snapshot("vid_2"))
    assert cache.get("vid_1") is not None  # vid_2 is now the least recently used
    cache.put(_snapshot("vid_3"))
    assert cache.get("vid_2") is None
    assert cache.get("vid_1") is not None and cache.get("vid_3") is not None


def test_forget_drops_an_entry() -> None:
    cache = ClosedJobCache()
    cache.put(_snapshot("vid_d"))
    cache.forget("vid_d")
    cache.forget("vid_never_there")
    assert cache.get("vid_d") is None


@pytest.fixture
def second_api(live_stack: Stack, tmp_path: Path) -> Iterator[str]:
    """Another API process of the same installation (data folder, accounts DB, task queue)."""
    port = free_port()
    env = {
        **live_stack.env,
        "INFRAI_API_PORT": str(port),
        "INFRAI_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = ManagedProcess(
        "api-2", [sys.executable, "-m", "api"], env=env, cwd=REPO, log_path=tmp_path / "api-2.log"
    ).start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop(timeout=15)


def test_a_job_deleted_through_another_api_process_is_404_here_at_once(
    live_stack: Stack, second_api: str
) -> None:
    job_id = live_stack.generate(prompt="a kite, soon deleted").json()["job_id"]
    finished = live_stack.wait_final(job_id)
    assert finished["state"] == "succeeded"
    assert live_stack.job(job_id)["state"] == "succeeded"  # read (and kept) by the first API process

    headers = {"Authorization": f"Bearer {live_stack.dev_key}"}
    deleted = httpx.delete(f"{second_api}/v1/videos/{job_id}", headers=headers, timeout=30)
    assert deleted.status_code == 200, deleted.text

    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
