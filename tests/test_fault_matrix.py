"""The fault matrix (issue 12): every boundary of a job x every fault, on the real stack.

For each fault kind one job is held at each boundary at once (``tests/fixtures/fault_windows.py``), the
fault strikes once, every hold is let go; then each cell (fault x boundary) is judged from the stores
themselves — the vendor emulator's tasks, the ledger rows in PostgreSQL, the objects in S3:

- the job reached a final state, the one this cell calls for;
- at most one vendor task for the job (its route has one candidate), and none left running after a cancel;
- the charge is what the vendor billed: the job's price for each task the vendor finished, else nothing;
  one hold, released in full, nothing left held;
- a delivered job's video and thumbnail are in storage (checksums match), nothing for any other job;
- ``succeeded``/``failed`` never change: a cancel sent afterwards is refused and changes nothing.

What each cell calls for (the intended behaviour, design §2): a worker crash or a Temporal restart never
loses or repeats a job, except that a submit cut off by a crash at a vendor that cannot look tasks up
(Runway) cannot be retried safely: the job fails ``timeout``, unbilled, leaving at most the one orphan
task. A graceful stop finishes the submit it has in hand. A cancel before the vendor finished the video
stops whatever the submit created and costs nothing; a cancel after it is too late: delivered and charged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures.accounts import fetch_all
from tests.fixtures.fault_matrix import *  # noqa: F403 (its fixtures: the matrix's own stack)
from tests.fixtures.fault_matrix import TRIAL_CREDITS_USD, MatrixStack
from tests.fixtures.fault_windows import BOUNDARIES, FAULTS, FaultRun, run_fault

MICROS = Decimal(1_000_000)


@dataclass(frozen=True)
class Expected:
    state: str
    tasks: tuple[int, ...]  # how many vendor tasks the job may have
    charged: bool
    error_code: str | None = None


DELIVERED = Expected("succeeded", (1,), charged=True)
CANCELLED = Expected("cancelled", (0, 1), charged=False, error_code="cancelled")
CANCELLED_TASK = Expected("cancelled", (1,), charged=False, error_code="cancelled")
# The submit was cut off before the vendor created anything, but nobody can know that: no retry.
CUT_OFF_BEFORE_CREATE = Expected("failed", (0,), charged=False, error_code="timeout")
# The vendor created the task, the answer died with the worker: one orphan, never a second task.
CUT_OFF_AFTER_CREATE = Expected("failed", (1,), charged=False, error_code="timeout")

EXPECTED: dict[tuple[str, str], Expected] = {
    **{(fault, boundary): DELIVERED for fault in FAULTS for boundary in BOUNDARIES},
    ("sigkill", "slow_submit"): CUT_OFF_BEFORE_CREATE,
    ("sigkill", "accepted_unrecorded"): CUT_OFF_AFTER_CREATE,
    ("cancel", "before_submit"): CANCELLED,
    ("cancel", "slow_submit"): CANCELLED,
    ("cancel", "accepted_unrecorded"): CANCELLED_TASK,
    ("cancel", "during_poll"): CANCELLED_TASK,
}

# Cells that still fail on main, with what was observed (strict: they must start failing loudly... or
# pass, and then come off this list).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _cells() -> list[Any]:
    cells = []
    for fault in FAULTS:
        for boundary in BOUNDARIES:
            reason = KNOWN_FAILURES.get((fault, boundary))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cells.append(pytest.param(fault, boundary, marks=marks, id=f"{fault}-{boundary}"))
    return cells


@pytest.fixture(scope="module")
def fault_runs() -> dict[str, FaultRun | BaseException]:
    return {}


def _run(matrix: MatrixStack, runs: dict[str, FaultRun | BaseException], fault: str) -> FaultRun:
    """Each fault's run happens once, for its first cell; the other cells judge the same run."""
    if fault not in runs:
        try:
            runs[fault] = run_fault(matrix, fault)
        except Exception as error:
            runs[fault] = error
    run = runs[fault]
    if isinstance(run, BaseException):
        raise AssertionError(f"the {fault} run itself failed: {run!r}") from run
    return run


def _ledger(matrix: MatrixStack, project_id: str) -> dict[str, int]:
    rows = fetch_all(
        matrix.accounts_url,
        "SELECT kind, amount_micros FROM ledger_entries WHERE project_id = :p AND job_id IS NOT NULL",
        p=project_id,
    )
    entries: dict[str, int] = {}
    for kind, amount in rows:
        assert kind not in entries, f"two {kind} entries"
        entries[str(kind)] = int(amount)
    return entries


def _balance(matrix: MatrixStack, project_id: str) -> tuple[int, int]:
    balance, held = fetch_all(
        matrix.accounts_url,
        "SELECT balance_micros, held_micros FROM projects WHERE project_id = :p",
        p=project_id,
    )[0]
    return int(balance), int(held)


def _journal(matrix: MatrixStack, job_id: str) -> list[tuple[str, str | None]]:
    """The submit journal's rows for the job: each attempt's state and the vendor task id it recorded."""
    rows = fetch_all(
        matrix.accounts_url, "SELECT state, task FROM vendor_submits WHERE job_id = :j", j=job_id
    )
    return [(str(state), json.loads(task)["task_id"] if task else None) for state, task in rows]


def _observed(job: dict[str, Any], tasks: list[dict[str, Any]], charge: int) -> str:
    error = (job.get("error") or {}).get("code")
    states = ",".join(task["state"] + ("(deleted)" if task["deleted"] else "") for task in tasks) or "none"
    return (
        f"{job['state']}{f' ({error})' if error else ''}; vendor tasks: {states}; charge {charge / 1e6:.2f}"
    )


@pytest.mark.parametrize(("fault", "boundary"), _cells())
def test_fault_matrix_cell(
    matrix_stack: MatrixStack, fault_runs: dict[str, FaultRun | BaseException], fault: str, boundary: str
) -> None:
    run = _run(matrix_stack, fault_runs, fault)
    cell, expected = run.cells[boundary], EXPECTED[(fault, boundary)]
    job = cell.final
    tasks = matrix_stack.runway.steering().get(cell.marker, {}).get("tasks", [])
    entries = _ledger(matrix_stack, cell.project_id)
    charge = entries.get("charge", 0)
    print(f"{fault} x {boundary}: {_observed(job, tasks, charge)} (run {run.seconds:.0f}s)")

    # A final state, the one called for.
    assert (job["state"], (job.get("error") or {}).get("code")) == (expected.state, expected.error_code)
    # At most one vendor task per job, and none still live once the job was cancelled.
    assert len(tasks) in expected.tasks, tasks
    if job["state"] == "cancelled":
        assert all(task["state"] == "cancelled" for task in tasks), tasks
    # The submit journal names exactly the tasks the vendor has, or keeps the cut-off attempt as unknown
    # (a possible orphan for operators).
    journal = _journal(matrix_stack, cell.job_id)
    if expected.error_code == "timeout":
        assert [state for state, _ in journal] == ["unknown"], journal
    else:
        assert {task_id for state, task_id in journal if state == "accepted"} == {t["id"] for t in tasks}
    # The charge is what the vendor billed (its price for each finished task), settled once.
    hold = entries["hold"]
    finished = sum(task["state"] == "succeeded" for task in tasks)
    assert charge == hold * finished == (hold if expected.charged else 0), (entries, tasks)
    assert set(entries) == ({"hold", "release", "charge"} if charge else {"hold", "release"})
    assert entries["release"] == hold
    assert int(Decimal(job["cost"]["settled_usd"] or 0) * MICROS) == charge
    assert _balance(matrix_stack, cell.project_id) == (int(Decimal(TRIAL_CREDITS_USD) * MICROS) - charge, 0)
    # The video is in our storage exactly when the job was delivered.
    objects = matrix_stack.objects(cell.project_id, cell.job_id)
    if job["state"] == "succeeded":
        assert {"video.mp4", "thumbnail.jpg"} <= set(objects), sorted(objects)
        assert hashlib.sha256(objects["video.mp4"]).hexdigest() == job["video"]["sha256"]
    else:
        assert objects == {}
    # A recorded success or failure is never overwritten (a late cancel included).
    if job["state"] in ("succeeded", "failed"):
        assert cell.late_cancel["ok"] is False
        assert cell.after_late_cancel["state"] == job["state"]
    if boundary == "during_webhook":
        assert matrix_stack.webhooks.delivered(cell.hook_path)


def test_the_worker_stopped_gracefully_left_on_its_own(
    matrix_stack: MatrixStack, fault_runs: dict[str, FaultRun | BaseException]
) -> None:
    """SIGTERM with a submit, a rehost, a settle and a delivery in hand: all done within the grace."""
    assert _run(matrix_stack, fault_runs, "sigterm").worker_exit_code == 0
