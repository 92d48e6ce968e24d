"""Housekeeping: the deployment's periodic chores as one small workflow, run by a Temporal Schedule.

A Schedule, not a loop in some process: it runs once per cluster however many API replicas and workers
there are, survives restarts of everything, and an operator sees each run (and its report) in the
Temporal UI under *Schedules*, and can pause it, resume it or trigger a run there. Each round, in order:

1. ``handle_stuck_jobs``: report jobs whose workflow task keeps failing; terminate (and release the hold
   of) those failing longer than ``INFRAI_STUCK_JOB_TERMINATE_AFTER_HOURS``;
2. ``release_stranded_holds``: release credit holds no job will settle;
3. ``expire_media``: delete stored media of finished jobs past their retention.

The steps are independent: one failing (after its retries) does not keep the others from running, and
the round then fails, naming it, so a failed run stands out in the schedule's list. What each step does
and why is in ``activities.housekeeping``. The worker creates the schedule, or updates it to the current
settings while keeping an operator's pause, at every start (``ensure_housekeeping_schedule``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.housekeeping import (
        EXPIRE_MEDIA,
        HANDLE_STUCK_JOBS,
        RELEASE_STRANDED_HOLDS,
        MediaExpiry,
        StuckJobsReport,
    )

logger = logging.getLogger(__name__)

HOUSEKEEPING_WORKFLOW = "Housekeeping"
_STEP_RETRIES = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=3)
_T = TypeVar("_T")


@dataclass
class HousekeepingInput:
    """Empty for now (thresholds are the worker's settings): one typed input, so fields can be added."""


@dataclass
class HousekeepingReport:
    stuck: StuckJobsReport | None = None
    released_holds: list[str] = field(default_factory=list)
    media: MediaExpiry | None = None
    failed_steps: list[str] = field(default_factory=list)


@workflow.defn(name=HOUSEKEEPING_WORKFLOW)
class HousekeepingWorkflow:
    @workflow.run
    async def run(self, _: HousekeepingInput) -> HousekeepingReport:
        report = HousekeepingReport()
        # Stuck jobs first: one terminated there has its hold released within this round.
        report.stuck = await self._step(
            report, HANDLE_STUCK_JOBS, StuckJobsReport, "report (and past the limit terminate) stuck jobs"
        )
        report.released_holds = (
            await self._step(report, RELEASE_STRANDED_HOLDS, list[str], "release stranded credit holds") or []
        )
        report.media = await self._step(
            report,
            EXPIRE_MEDIA,
            MediaExpiry,
            "delete media past retention",
            start_to_close=timedelta(hours=1),
            heartbeat=timedelta(minutes=2),
        )
        if report.failed_steps:
            raise ApplicationError(
                f"housekeeping steps failed: {', '.join(report.failed_steps)}",
                report,
                type="housekeeping_failed",
                non_retryable=True,
            )
        return report

    async def _step(
        self,
        report: HousekeepingReport,
        name: str,
        result_type: type[_T] | Any,
        summary: str,
        *,
        start_to_close: timedelta = timedelta(minutes=10),
        heartbeat: timedelta | None = None,
    ) -> _T | None:
        try:
            result: _T = await workflow.execute_activity(
                name,
                result_type=result_type,
                start_to_close_timeout=start_to_close,
                heartbeat_timeout=heartbeat,
                retry_policy=_STEP_RETRIES,
                summary=summary,
            )
        except ActivityError as error:
            workflow.logger.warning("housekeeping step %s failed: %s", name, error.cause or error)
            report.failed_steps.append(name)
            return None
        return result


def housekeeping_schedule_id(task_queue: str) -> str:
    """One schedule per deployment, named after its task queue (deployments can share a namespace)."""
    return f"{task_queue}-housekeeping"


def housekeeping_schedule(task_queue: str, interval: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HOUSEKEEPING_WORKFLOW,
            HousekeepingInput(),
            id=housekeeping_schedule_id(task_queue),  # the schedule appends each run's time
            task_queue=task_queue,
            execution_timeout=timedelta(hours=2),
            static_summary="Housekeeping: stuck jobs, stranded credit holds, media retention",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        # A round still running when the next is due (a long media sweep): skip the new one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note="created by the Infrai worker; pause here to stop housekeeping"),
    )


async def ensure_housekeeping_schedule(client: Client, task_queue: str, interval: timedelta) -> None:
    """Create the schedule, or bring an existing one to ``interval`` and the current action; a pause
    (and its note) set by an operator is kept. Safe from every worker at every start."""
    schedule_id = housekeeping_schedule_id(task_queue)
    wanted = housekeeping_schedule(task_queue, interval)
    try:
        await client.create_schedule(schedule_id, wanted)
        logger.info("created housekeeping schedule %s every %s", schedule_id, interval)
        return
    except ScheduleAlreadyRunningError:
        pass

    def keep_the_state(existing: ScheduleUpdateInput) -> ScheduleUpdate:
        wanted.state = existing.description.schedule.state
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(schedule_id).update(keep_the_state)
