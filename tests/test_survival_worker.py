"""The worker dies (SIGKILL) or is stopped (SIGTERM) with jobs in flight; a new worker takes over.

After each: every job succeeded, each vendor task was submitted once, storage holds only complete objects
whose sha256 the job reports, and the ledger settled each job once (``tests.job_invariants``).
"""

from __future__ import annotations

from tests.fixtures.survival import SurvivalStack
from tests.job_invariants import JobBatch, media_files
from tests.wait import wait_until
from tests.workflow_history import activity_run
from workflows.video_job import POLL, REHOST

GRACEFUL_SECONDS = 15.0  # the graceful tests give the worker this long (set when they restart it)


def _generating(job: dict[str, object]) -> bool:
    return job["stage"] == "generating"


def _downloads(survival: SurvivalStack) -> int:
    return survival.runway_state.counters.get("downloads", 0)


def test_worker_killed_while_jobs_poll_every_job_finishes_and_was_submitted_once(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    survival.runway.configure(polls_to_finish=12)
    batch.start("kill mid-poll", local=3, runway=2)
    batch.wait_all(_generating)

    survival.stack.kill("worker")
    survival.stack.start("worker")

    batch.check()
    for job_id in batch.job_ids:  # the kill really interrupted each poll: it took a second attempt
        assert activity_run(survival.temporal.address, job_id, POLL).attempt >= 2


def test_worker_killed_while_jobs_rehost_leaves_no_partial_object(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    survival.runway.configure(download_seconds=60)  # outputs trickle: the rehost is caught mid-copy
    downloads_before = _downloads(survival)
    batch.start("kill mid-rehost", runway=3)
    wait_until(lambda: _downloads(survival) - downloads_before == 3, what="three downloads under way")
    wait_until(
        lambda: (
            sum(name.endswith(".tmp") for name in media_files(survival.media_root, batch.project_id)) == 3
        ),
        what="three partial files",
    )

    survival.stack.kill("worker")
    left_behind = {name for name in media_files(survival.media_root, batch.project_id) if ".tmp" in name}
    survival.runway.configure(download_seconds=0)
    survival.stack.start("worker")

    assert len(left_behind) == 3  # what the dead worker could not clean up
    batch.check()  # ... is gone, and every video is whole
    assert _downloads(survival) - downloads_before == 6  # each rehost ran again, from the start
    for job_id in batch.job_ids:
        assert activity_run(survival.temporal.address, job_id, REHOST).attempt >= 2


def _restart_worker_with_grace(survival: SurvivalStack) -> None:
    survival.stack.stop("worker")
    survival.stack.start("worker", INFRAI_WORKER_GRACEFUL_SHUTDOWN_SECONDS=str(GRACEFUL_SECONDS))


def _stop_worker_gracefully(survival: SurvivalStack) -> int | None:
    """SIGTERM; the exit code if the worker left on its own (a kill after the wait would show as -9)."""
    return survival.stack.processes["worker"].stop(timeout=GRACEFUL_SECONDS + 30)


def test_a_gracefully_stopped_worker_hands_its_polls_off_at_once(survival: SurvivalStack) -> None:
    _restart_worker_with_grace(survival)
    batch = JobBatch.new(survival)
    # Emulated tasks advance only when polled, so none can finish between "generating" and the SIGTERM.
    survival.runway.configure(polls_to_finish=16)
    batch.start("graceful poll", runway=3)
    batch.wait_all(_generating)

    exit_code = _stop_worker_gracefully(survival)
    survival.stack.start("worker")

    assert exit_code == 0
    batch.check()
    for job_id in batch.job_ids:  # handed off by the shutdown, not found dead by a heartbeat timeout
        run = activity_run(survival.temporal.address, job_id, POLL)
        assert (run.attempt, run.last_failure_type) == (2, "worker_shutdown"), run


def test_a_gracefully_stopped_worker_finishes_its_rehosts(survival: SurvivalStack) -> None:
    _restart_worker_with_grace(survival)
    batch = JobBatch.new(survival)
    survival.runway.configure(download_seconds=3)
    downloads_before = _downloads(survival)
    batch.start("graceful rehost", runway=2)
    wait_until(lambda: _downloads(survival) - downloads_before == 2, what="two downloads under way")

    exit_code = _stop_worker_gracefully(survival)
    survival.stack.start("worker")

    assert exit_code == 0
    batch.check()
    assert _downloads(survival) - downloads_before == 2  # finished by the stopping worker, not redone
    for job_id in batch.job_ids:
        assert activity_run(survival.temporal.address, job_id, REHOST).attempt == 1
