"""What can go wrong with a job, as the jobs layer says it. ``api.domain_problems`` maps each to problem JSON.

JobError
├── JobNotFound            no such job, or not this project's, or deleted
├── JobDeleted             an idempotency key names a job the project deleted
├── JobConflict            an idempotency key already names a job made from a different request
├── IdempotencyKeySpent    an idempotency key whose job no longer exists (never started, or expired)
├── Unroutable             no configured vendor/model serves the request (``vendors.router.NoRouteError``)
├── UnsafeInputUrl         a reference image or webhook URL refused by the SSRF guard
├── WebhookMessageNotFound no such webhook message of this job (or not this project's)
├── RedeliveryInProgress   a redelivery of the message is still running
├── StorageUnavailable     object storage did not answer (storing the reference image)
├── TemporalUnavailable    Temporal could not be reached, or did not answer in time
├── JobStateUnavailable    the watcher of a job could not read its state (an unexpected error)
├── BatchNotFound          no such batch, or not this project's
├── BatchConflict          an idempotency key already names a batch made from a different request
└── BatchItemsInvalid      items of a batch refused before anything was held (each with its JobError)

Credits are the accounts layer's: ``accounts.errors.InsufficientCredits`` and ``AccountsUnavailable`` pass
through unchanged.
"""

from __future__ import annotations

from core.errors import JobIdError
from vendors.router import NoRouteError


class JobError(Exception):
    """Base of the jobs layer's domain errors."""


class JobNotFound(JobError, JobIdError):
    message = "no job {job_id!r} in this project"


class JobDeleted(JobError, JobIdError):
    message = "the job {job_id!r} this idempotency key names was deleted"


class JobConflict(JobError, JobIdError):
    """The idempotency key already names a job created from a different request."""


class IdempotencyKeySpent(JobError, JobIdError):
    """The key's job ended (or its hold was released because it never started) and cannot be found."""


class Unroutable(JobError):
    def __init__(self, cause: NoRouteError) -> None:
        super().__init__(cause.detail)
        self.cause = cause


class UnsafeInputUrl(JobError):
    """``field`` (``webhook_url``, ``reference_image_url``) was refused; ``reason`` says why."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        super().__init__(f"{field} refused: {message}")
        self.field = field
        self.message = message
        self.reason = reason


class WebhookMessageNotFound(JobError):
    def __init__(self, job_id: str, message_id: str) -> None:
        super().__init__(f"no webhook message {message_id!r} of job {job_id!r} in this project")
        self.job_id = job_id
        self.message_id = message_id


class RedeliveryInProgress(JobError):
    """A redelivery of the message is still running; another would race it (a double click)."""

    def __init__(self, job_id: str, message_id: str) -> None:
        super().__init__(f"a redelivery of {message_id!r} is in progress")
        self.job_id = job_id
        self.message_id = message_id


class StorageUnavailable(JobError):
    pass


class TemporalUnavailable(JobError):
    pass


class JobStateUnavailable(JobError):
    pass


class BatchNotFound(JobError):
    def __init__(self, batch_id: str) -> None:
        super().__init__(f"no batch {batch_id!r} in this project")
        self.batch_id = batch_id


class BatchConflict(JobError):
    """The idempotency key already names a batch created from a different request."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(batch_id)
        self.batch_id = batch_id


class BatchItemsInvalid(JobError):
    """Items refused by the checks every generate passes: ``failures`` is (item index, why), by index."""

    def __init__(self, failures: list[tuple[int, JobError]]) -> None:
        super().__init__(", ".join(f"item {index}: {error}" for index, error in failures))
        self.failures = failures
