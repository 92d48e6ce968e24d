"""The fault matrix (issue 12): every boundary of a job x every fault, on the real stack.

For each fault kind one job is held at each boundary at once (``tests/fixtures/fault_windows.py``), the
fault strikes once, every hold is let go; then each cell (fault x vendor x boundary) is judged from the
stores themselves — the vendor emulator's tasks, the ledger rows in PostgreSQL, the objects in S3:

- the job reached a final state, the one this cell calls for;
- at most one vendor task for the job (its route has one candidate), and none left running at the end (a
  cancelled one included), but for the orphan of a submit cut off at a vendor without lookup;
- the submit journal (PostgreSQL) names exactly the tasks the vendor has, or keeps a cut-off attempt as
  ``unknown`` (a possible orphan for operators);
- the charge is what the vendor billed: the job's price for each task the vendor finished, else nothing;
  one hold, released in full, nothing left held;
- a delivered job's video and thumbnail are in storage (checksums match), nothing for any other job;
- ``succeeded``/``failed`` never change: a cancel sent afterwards is refused and changes nothing.

What each cell calls for (the intended behaviour, design §2): a worker crash or a Temporal restart never
loses or repeats a job, except that a submit cut off by a crash at a vendor that cannot look tasks up
(Runway) cannot be retried safely: the job fails ``timeout``, unbilled, leaving at most the one orphan
task (Kling's retry finds the task by our key instead). A graceful stop finishes the submit it has in
hand. A cancel before the vendor finished the video stops whatever the submit created and costs nothing
(Runway); a vendor that cannot stop a task (Kling) is watched to its end and the video delivered, charged;
a cancel after the vendor finished is too late: delivered and charged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.emulators import runway
from tests.emulators.scenario import EmulatorState
from tests.emulators.server import EmulatorServer
from tests.fixtures.accounts import fetch_all
from tests.fixtures.fault_matrix import *  # noqa: F403 (its fixtures: the matrix's own stack)
from tests.fixtures.fault_matrix import TRIAL_CREDITS_USD, MatrixStack
from tests.fixtures.fault_windows import FAULTS, VENDOR_BOUNDARIES, FaultRun, run_fault
from tests.wait import wait_until

MICROS = Decimal(1_000_000)


@dataclass(frozen=True)
class Expected:
    state: str
    tasks: tuple[int, ...]  # how many vendor tasks the job may have
    charged: bool
    error_code: str | None = None


DELIVERED = Expected("succeeded", (1,), charged=True)
CANCELLED_UNSUBMITTED = Expected("cancelled", (0,), charged=False, error_code="cancelled")
CANCELLED_TASK = Expected("cancelled", (1,), charged=False, error_code="cancelled")
# The submit was cut off before the vendor created anything, but nobody can know that: no retry.
CUT_OFF_BEFORE_CREATE = Expected("failed", (0,), charged=False, error_code="timeout")
# The vendor created the task, the answer died with the worker: one orphan, never a second task.
CUT_OFF_AFTER_CREATE = Expected("failed", (1,), charged=False, error_code="timeout")

# (fault, vendor, boundary) -> the outcomes it may end in (one, unless the fault races the job by nature).
EXPECTED: dict[tuple[str, str, str], tuple[Expected, ...]] = {
    **{
        (fault, vendor, boundary): (DELIVERED,)
        for fault in FAULTS
        for vendor, boundaries in VENDOR_BOUNDARIES.items()
        for boundary in boundaries
    },
    ("sigkill", "runway", "slow_submit"): (CUT_OFF_BEFORE_CREATE,),
    ("sigkill", "runway", "accepted_unrecorded"): (CUT_OFF_AFTER_CREATE,),
    ("cancel", "runway", "before_submit"): (CANCELLED_UNSUBMITTED,),
    ("cancel", "runway", "slow_submit"): (CANCELLED_TASK,),  # the submit is let finish, then stopped
    ("cancel", "runway", "accepted_unrecorded"): (CANCELLED_TASK,),
    ("cancel", "runway", "during_poll"): (CANCELLED_TASK,),
    ("cancel", "kling", "before_submit"): (CANCELLED_UNSUBMITTED,),
}

# Cells that still fail, with what was observed (strict: a cell that starts passing must come off).
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


def _cells() -> list[Any]:
    cells = []
    for fault, vendor, boundary in EXPECTED:
        reason = KNOWN_FAILURES.get((fault, vendor, boundary))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cells.append(pytest.param(fault, vendor, boundary, marks=marks, id=f"{fault}-{vendor}-{boundary}"))
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


@pytest.mark.parametrize(("fault", "vendor", "boundary"), _cells())
def test_fault_matrix_cell(
    matrix_stack: MatrixStack,
    fault_runs: dict[str, FaultRun | BaseException],
    fault: str,
    vendor: str,
    boundary: str,
) -> None:
    run = _run(matrix_stack, fault_runs, fault)
    cell = run.cells[vendor, boundary]
    job = cell.final
    tasks = matrix_stack.emulators[vendor].steering().get(cell.marker, {}).get("tasks", [])
    entries = _ledger(matrix_stack, cell.project_id)
    charge = entries.get("charge", 0)
    seen = cell.at_fault.get("submissions", 0)  # creates the vendor had seen when the fault struck
    print(f"{fault} x {vendor} x {boundary}: {_observed(job, tasks, charge)}; creates at the fault {seen}")

    # A final state, the one called for.
    outcome = (job["state"], (job.get("error") or {}).get("code"))
    allowed = EXPECTED[(fault, vendor, boundary)]
    matching = [each for each in allowed if (each.state, each.error_code) == outcome]
    assert matching, f"ended {outcome}; called for: {[(each.state, each.error_code) for each in allowed]}"
    expected = matching[0]
    # At most one vendor task per job, and none still live once the job was cancelled.
    assert len(tasks) in expected.tasks, tasks
    if job["state"] == "cancelled":
        assert all(task["state"] == "cancelled" for task in tasks), tasks
    if expected is not CUT_OFF_AFTER_CREATE:  # the one task left running: the orphan nobody could learn of
        assert all(task["state"] in ("succeeded", "failed", "cancelled") for task in tasks), tasks
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


def test_fault_matrix_timings(fault_runs: dict[str, FaultRun | BaseException]) -> None:
    """Not a check: how long each run took, phase by phase (read with ``-s``)."""
    for fault, run in fault_runs.items():
        if isinstance(run, FaultRun):
            phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.phases.items())
            print(f"{fault}: {run.seconds:.1f}s ({phases}); open multipart uploads {run.open_uploads}")


# -- the emulator's holds the matrix relies on -----------------------------------------------------------


@pytest.fixture
def runway_emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer("runway", runway.create_app(EmulatorState())).start()
    yield server
    server.stop()


def _create(server: EmulatorServer, marker: str, timeout: float = 10.0) -> httpx.Response:
    headers = {"Authorization": f"Bearer {runway.API_KEY}", "X-Runway-Version": runway.API_VERSION}
    body = {"model": "gen4.5", "ratio": "1280:720", "duration": 2, "promptText": f"a kite [[{marker}]]"}
    return httpx.post(server.url + "/v1/text_to_video", json=body, headers=headers, timeout=timeout)


def test_a_held_answer_creates_the_task_at_once_and_answers_on_release(
    runway_emulator: EmulatorServer,
) -> None:
    runway_emulator.steer("held", submit="held_answer")
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_create, runway_emulator, "held")
        wait_until(lambda: runway_emulator.stats()["held_submits"] == 1, what="the answer held")
        [task] = runway_emulator.steering()["held"]["tasks"]
        assert not answer.done()
        runway_emulator.release("held")
        assert answer.result(timeout=10).json() == {"id": task["id"]}


def test_a_slow_create_whose_caller_gave_up_creates_nothing(runway_emulator: EmulatorServer) -> None:
    runway_emulator.steer("slow", submit="slow")
    with pytest.raises(httpx.ReadTimeout):
        _create(runway_emulator, "slow", timeout=0.5)
    wait_until(lambda: runway_emulator.stats()["held_submits"] == 0, what="the hang-up noticed")
    runway_emulator.release("slow")
    report = runway_emulator.steering()["slow"]
    assert (report["submissions"], report["tasks"]) == (1, [])
    assert _create(runway_emulator, "slow").status_code == 200  # released for good: answered at once
