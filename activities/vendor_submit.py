"""The vendor submit activity: create the vendor task at most once per (job, route candidate).

``submit_to_vendor`` decides, per kind of failure, whether the same vendor gets another attempt; the
workflow then decides between failover and failing the job (``workflows/video_job.py``):

- 429: retried after the vendor's ``Retry-After`` (Temporal's ``next_retry_delay``; a wait over
  ``_LONGEST_RETRY_AFTER_SECONDS`` is not worth it) for ``_SUBMIT_ATTEMPTS`` attempts, then the workflow
  fails over. Without ``Retry-After``: exponential backoff. Both jittered.
- 5xx (but 504) or unreachable: one more attempt, then failover. A plain rejection (4xx): failover at once.
- Content-policy refusal: final, never tried elsewhere.
- Ambiguous (the vendor may have created the task but we never got its id: read timeout, dropped
  connection, 504, an unreadable 2xx, or an earlier attempt that died mid-request): where the adapter can
  find a task by our key (``TaskFinder``) the activity is retried and every retry looks the task up before
  submitting again, so it is never created twice. Elsewhere the failure is final: the workflow fails the
  job ``timeout``, unbilled, without trying another vendor, and the journal keeps the attempt as a
  possible orphan for operators.

What makes this hold when the worker itself dies mid-request is the submit journal
(``accounts/submit_journal.py``): a row is committed *before* each request goes out and updated with its
answer. A retry that finds ``sending`` knows an earlier request may have landed; one that finds
``accepted`` returns the recorded task (the answer arrived, the worker died before Temporal heard it).
The attempt heartbeats while the request is in flight, so a dead worker is noticed in seconds, and runs
under a deadline a little shorter than its start-to-close timeout, so a slow vendor ends as our own
(recorded) ambiguous timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from accounts.errors import AccountsUnavailable
from accounts.submit_journal import SubmitJournal, SubmitRecord, SubmitState
from activities.failures import application_error, final_error
from activities.heartbeats import heartbeating
from activities.reference_images import ReferenceImages
from core.errors import ErrorCode, VendorError
from core.models import SubmitRequest, VendorTask
from vendors.base import TaskFinder, VideoVendor

logger = logging.getLogger(__name__)

# The activity's name on the wire: workflows call it by method, the API and tests look it up by this name.
SUBMIT_TO_VENDOR = "submit_to_vendor"

T = TypeVar("T")

# Attempts one vendor gets for a submit failure that is known to have created nothing, before the workflow
# moves to the next candidate (the workflow's retry policy allows 4 attempts in all).
_SUBMIT_ATTEMPTS = {ErrorCode.RATE_LIMITED: 4, ErrorCode.VENDOR_UNAVAILABLE: 2}
# A vendor asking us to wait longer than this is better replaced by the next candidate right away.
_LONGEST_RETRY_AFTER_SECONDS = 60.0
# Time kept back from the activity's start-to-close timeout so the attempt can report its own outcome.
_SUBMIT_DEADLINE_MARGIN = timedelta(seconds=5)
# Writing the vendor's answer down is retried this often before the task is returned unrecorded (the
# workflow still gets it; only a lost completion would then be treated as unknown, never sent twice).
_RECORD_ATTEMPTS = 5


def _deadline_seconds(start_to_close: timedelta | None) -> float | None:
    if start_to_close is None:
        return None
    return max(start_to_close - _SUBMIT_DEADLINE_MARGIN, start_to_close / 2).total_seconds()


def _retry_is_safe(vendor: VideoVendor) -> bool:
    """Whether a submit whose outcome is unknown may be retried: the retry finds the task by our key
    (``TaskFinder``), or the vendor answers a repeated key with the task it created."""
    return isinstance(vendor, TaskFinder) or vendor.idempotent_submit


def _submit_failure(vendor: VideoVendor, err: VendorError, attempt: int) -> ApplicationError:
    """The Temporal error for a failed submit attempt: retried on this vendor, or handed to the workflow."""
    if err.ambiguous:
        return application_error(err, final=not _retry_is_safe(vendor))
    if not err.retryable:
        return application_error(err)
    too_long = err.retry_after is not None and err.retry_after > _LONGEST_RETRY_AFTER_SECONDS
    out_of_attempts = attempt >= _SUBMIT_ATTEMPTS.get(err.code, 1)
    return application_error(err, final=too_long or out_of_attempts, retry_delay=_retry_delay(err, attempt))


def _retry_delay(err: VendorError, attempt: int) -> float:
    """Seconds before the next submit attempt: never sooner than the vendor's Retry-After, else exponential
    backoff; jittered either way so jobs rate-limited together do not come back together."""
    if err.retry_after is not None:
        return err.retry_after + random.uniform(0, min(1.0, err.retry_after / 10))
    ceiling = min(2.0 ** (attempt - 1), 30.0)
    return random.uniform(ceiling / 2, ceiling)


class VendorSubmitActivities:
    """The submit activity (built once per worker): vendor adapters, stored reference images, the journal."""

    def __init__(
        self,
        vendors: dict[str, VideoVendor],
        journal: SubmitJournal,
        references: ReferenceImages | None = None,
    ) -> None:
        self._vendors = vendors
        self._journal = journal
        self._references = references

    @activity.defn(name=SUBMIT_TO_VENDOR)
    async def submit_to_vendor(self, req: SubmitRequest) -> VendorTask:
        async with heartbeating():
            return await self._submit(req)

    async def _submit(self, req: SubmitRequest) -> VendorTask:
        vendor = self._vendors.get(req.vendor)
        if vendor is None:
            message = f"vendor {req.vendor!r} is not configured on this worker"
            raise final_error(ErrorCode.VENDOR_UNAVAILABLE, message)
        req = await self._with_reference_image(req, vendor)
        info = activity.info()
        try:
            found = await self._journal_sending(vendor, req)
            if found is not None:
                return found
            async with asyncio.timeout(_deadline_seconds(info.start_to_close_timeout)):
                task = await vendor.submit(req.spec, req.model, req.attempt_key)
        except TimeoutError:
            err = VendorError(
                ErrorCode.TIMEOUT,
                f"{req.vendor}: submit did not finish within the activity's deadline",
                retryable=True,
                ambiguous=True,
            )
            await self._record_failure(req, err)
            raise _submit_failure(vendor, err, info.attempt) from None
        except VendorError as err:
            logger.warning("submit to %s failed: %s (%s)", req.vendor, err.code, err.message)
            await self._record_failure(req, err)
            raise _submit_failure(vendor, err, info.attempt) from None
        await self._record_accepted(req, task)
        logger.info("job %s accepted by %s as %s", req.job_id, task.vendor, task.task_id)
        return task

    async def _journal_sending(self, vendor: VideoVendor, req: SubmitRequest) -> VendorTask | None:
        """Journal the request about to go out; the task an earlier attempt created instead, if any (then
        nothing is sent). The first attempt of a candidate, nearly every submit, is one journal write."""
        if await _journal(self._journal.first_sending(req)):
            return None
        earlier = await _journal(self._journal.get(req.attempt_key))
        found = await self._earlier_task(vendor, req, earlier) if earlier else None
        if found is None:
            await _journal(self._journal.sending(req))
        return found

    async def _earlier_task(
        self, vendor: VideoVendor, req: SubmitRequest, earlier: SubmitRecord
    ) -> VendorTask | None:
        """The task an earlier attempt created, None when sending again is safe; raises when unknowable."""
        if earlier.state is SubmitState.ACCEPTED and earlier.task is not None:
            logger.info("job %s: an earlier attempt's task %s was recorded", req.job_id, earlier.task.task_id)
            return earlier.task
        if earlier.state is SubmitState.NOT_CREATED:
            return None
        # ``sending`` or ``unknown``: an earlier request may have created a task without our learning its id.
        if vendor.idempotent_submit:
            return None  # sending again under the same key returns that task
        if not isinstance(vendor, TaskFinder):
            raise VendorError(
                ErrorCode.TIMEOUT,
                f"{req.vendor}: an earlier submit attempt may have created the task and {req.vendor} cannot "
                "look tasks up by our key, so it is not sent again",
                retryable=True,
                ambiguous=True,
            )
        try:
            found = await vendor.find_task(req.spec, req.model, req.attempt_key)
        except VendorError as err:
            raise VendorError(
                err.code, f"looking up the earlier submit: {err.message}", retryable=True, ambiguous=True
            ) from err
        if found is not None:
            logger.info("job %s: found the task an earlier attempt created at %s", req.job_id, req.vendor)
            await self._record_accepted(req, found)
        return found

    async def _with_reference_image(self, req: SubmitRequest, vendor: VideoVendor) -> SubmitRequest:
        if req.spec.reference_image is None:
            return req
        if self._references is None:
            raise final_error(ErrorCode.STORAGE_ERROR, "this worker has no storage for reference images")
        spec = await self._references.spec_for(req.spec, vendor)
        return req.model_copy(update={"spec": spec})

    async def _record_accepted(self, req: SubmitRequest, task: VendorTask) -> None:
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                await self._journal.accepted(req.attempt_key, task)
                return
            except AccountsUnavailable as err:
                logger.warning("journal unavailable recording %s's task (%s)", req.job_id, err)
                await asyncio.sleep(min(2.0**attempt, 8.0))
        logger.error(
            "job %s: %s task %s not journaled; returning it anyway", req.job_id, req.vendor, task.task_id
        )

    async def _record_failure(self, req: SubmitRequest, err: VendorError) -> None:
        """Journal what a failed attempt means; an unwritable journal leaves ``sending``, the safe reading."""
        try:
            if err.ambiguous:
                await self._journal.unknown(req.attempt_key, err.message)
                logger.error("submit outcome unknown: %s: %s", req.attempt_key, err.message)
            else:
                await self._journal.not_created(req.attempt_key, f"{err.code}: {err.message}")
        except AccountsUnavailable as journal_err:
            logger.warning("journal unavailable recording %s's failure (%s)", req.job_id, journal_err)


async def _journal(call: Awaitable[T]) -> T:
    """A journal call before anything was sent: an outage is a plain retryable failure, nothing is lost."""
    try:
        return await call
    except AccountsUnavailable as err:
        raise ApplicationError(
            f"the submit journal is unavailable: {err}", type=ErrorCode.SERVICE_UNAVAILABLE
        ) from None
