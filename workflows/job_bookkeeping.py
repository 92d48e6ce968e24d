"""How a ``VideoJob``'s state shows: its snapshot (the ``status`` query), its search attributes, the
current details in the Temporal UI, and the webhooks the customer asked for, as the job moves through its
stages. Shared by every workflow version; the stages themselves are ``workflows/video_job.py``'s.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.models import ErrorInfo, JobSnapshot, JobState, RouteCandidate, Stage, StoredVideo, VendorTask
    from workflows import search_attributes as sa
    from workflows.webhook_delivery import JobWebhooks


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
