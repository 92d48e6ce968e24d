"""Infrai Video SDK.

    from infrai import infra; infra.activate()      # anonymous account + trial credits
    from infrai import ai
    job = ai.video.generate("a timelapse of a city skyline at dusk", resolution="1080p", wait=True)
    ai.video.download(job["job_id"], "skyline.mp4")

``Infrai`` / ``AsyncInfrai`` for explicit clients; every error is an ``InfraiError`` (see ``infrai.errors``).
"""

from infrai.backoff import PollPacing, RetryPolicy
from infrai.client import AsyncInfrai, Infrai
from infrai.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BudgetExceededError,
    ConcurrencyLimitError,
    ConflictError,
    DownloadIntegrityError,
    InfraiError,
    InsufficientCreditsError,
    InternalServerError,
    InvalidRequestError,
    JobStateError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TimeoutError,
)
from infrai.models import (
    Account,
    AccountUsage,
    Activation,
    BatchCounts,
    BatchItem,
    Budget,
    Budgets,
    CancelResult,
    JobCost,
    JobError,
    JobWarning,
    MeasuredLatency,
    ModelList,
    Usage,
    UsageLine,
    VideoBatch,
    VideoFile,
    VideoJob,
    VideoModelInfo,
    WebhookMessagePage,
    WebhookMessageStatus,
    WebhookRedelivery,
)
from infrai.ratelimits import RateLimit
from infrai.shared_client import ai, default_client, infra, set_default_client
from infrai.version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Account",
    "AccountUsage",
    "Activation",
    "AsyncInfrai",
    "AuthenticationError",
    "BatchCounts",
    "BatchItem",
    "Budget",
    "BudgetExceededError",
    "Budgets",
    "CancelResult",
    "ConcurrencyLimitError",
    "ConflictError",
    "DownloadIntegrityError",
    "Infrai",
    "InfraiError",
    "InsufficientCreditsError",
    "InternalServerError",
    "InvalidRequestError",
    "JobCost",
    "JobError",
    "JobStateError",
    "JobWarning",
    "MeasuredLatency",
    "MissingAPIKeyError",
    "ModelList",
    "NotFoundError",
    "PermissionDeniedError",
    "PollPacing",
    "RateLimit",
    "RateLimitError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "TimeoutError",
    "Usage",
    "UsageLine",
    "VideoBatch",
    "VideoFile",
    "VideoJob",
    "VideoModelInfo",
    "WebhookMessagePage",
    "WebhookMessageStatus",
    "WebhookRedelivery",
    "__version__",
    "ai",
    "default_client",
    "infra",
    "set_default_client",
]
