"""How a ``VideoJob``'s state shows: its snapshot (the ``status`` query), its search attributes, the
current details in the Temporal UI, and the webhooks the customer asked for, as the job moves through its
stages, and each submit along the route with what its refusal means. Shared by every workflow version;
the stages themselves are ``workflows/video_job.py``'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from core.models import (
        ErrorInfo,
        JobInput,
        JobSnapshot,
        JobState,
        RouteCandidate,
        Stage,
        StoredVideo,
        VendorAttempt,
        VendorTask,
    )
    from workflows import search_attributes as sa
    from workflows.job_failures import (
        JobCancelled,
        JobFailed,
        error_from_activity,
        not_sent_elsewhere,
        route_exhausted,
    )
    from workflows.webhook_delivery import JobWebhooks

# One submit of a version's run: the candidate's index on the route and the candidate; the vendor's task.
SubmitStep = Callable[[int, RouteCandidate], Awaitable[VendorTask]]


class JobBookkeeping:
    """The bookkeeping half of ``VideoJobWorkflow``: what the job looks like from outside, kept current."""

    _snapshot: JobSnapshot
    _task: VendorTask | None
    _webhooks: JobWebhooks

    def _cancel_requested(self) -> None:
        if not self._snapshot.cancel_requested:
            self._snapshot.cancel_requested = True
            workflow.set_current_details(f"cancel requested · {self._details()}")

    def _use_candidate(self, candidate: RouteCandidate) -> None:
        if (candidate.vendor, candidate.model) != (self._snapshot.vendor, self._snapshot.model):
            self._snapshot.vendor = candidate.vendor
            self._snapshot.model = candidate.model
            self._snapshot.cost.estimated_usd = candidate.estimated_cost_usd
            workflow.upsert_search_attributes(
                [sa.VENDOR.value_set(candidate.vendor), sa.MODEL.value_set(candidate.model)]
            )

    async def _fail_over(self, job: JobInput, submit: SubmitStep) -> tuple[VendorTask, RouteCandidate]:
        """Submit along the route (``submit(index, candidate)``) until a vendor accepts the job.

        A submit that failed is recorded; a cancelled one ends the loop (v1 cancels a submit in flight; the
        current run never does). A submit whose outcome is unknown is never sent elsewhere, a cancel stops
        the failover (a v1 run never marks one), and a refusal that is final (content policy) fails the job.
        """
        last_error: ErrorInfo | None = None
        for index, candidate in enumerate(job.route):
            try:
                task = await submit(index, candidate)
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise
                last_error = self._submit_refused(candidate, err)
                continue
            self._task = task
            self._snapshot.attempts.append(
                VendorAttempt(vendor=task.vendor, model=task.model, task_id=task.task_id, outcome="accepted")
            )
            return task, candidate
        raise route_exhausted(last_error)

    def _submit_refused(self, candidate: RouteCandidate, err: ActivityError) -> ErrorInfo:
        failure = error_from_activity(err)
        error = failure.error
        outcome = "unknown" if failure.ambiguous else "rejected"
        self._snapshot.attempts.append(
            VendorAttempt(vendor=candidate.vendor, model=candidate.model, outcome=f"{outcome}:{error.code}")
        )
        if failure.ambiguous:
            raise JobFailed(not_sent_elsewhere(error)) from None
        if self._snapshot.cancel_requested:
            raise JobCancelled("the job was cancelled; no vendor had accepted it") from None
        if not failure.allows_failover:
            raise JobFailed(error) from None
        return error

    def _details(self) -> str:
        snapshot = self._snapshot
        task = f" · task {self._task.task_id}" if self._task else ""
        stage = snapshot.stage.value if snapshot.stage else "-"
        return f"{snapshot.state.value} · {stage} · {snapshot.vendor} / {snapshot.model}{task}"

    def _enter(self, state: JobState, stage: Stage | None) -> None:
        if state is not self._snapshot.state:
            workflow.upsert_search_attributes([sa.STATE.value_set(state.value)])
        self._snapshot.state = state
        self._snapshot.stage = stage
        self._snapshot.progress = None if stage is not Stage.REHOSTING else 100
        workflow.set_current_details(self._details())
        if not state.is_final:  # a final state is announced by _finish, once the snapshot is complete
            self._webhooks.announce(self._snapshot)

    def _finish(
        self, state: JobState, *, media: StoredVideo | None = None, error: ErrorInfo | None = None
    ) -> None:
        self._snapshot.finished_at = workflow.now()
        self._snapshot.media = media
        self._snapshot.error = error
        progress = 100 if state is JobState.SUCCEEDED else self._snapshot.progress
        self._enter(state, None)
        self._snapshot.progress = progress
        # The final snapshot lives in the memo so status of a closed job needs only `describe`.
        workflow.upsert_memo({"job": self._snapshot.model_dump(mode="json")})
        self._webhooks.announce(self._snapshot)
