"""A job's timeouts and pacing: chosen by settings when the job starts, then fixed for its whole life."""

from __future__ import annotations

from pydantic import BaseModel


class JobTimings(BaseModel):
    """Timeouts and poll pacing, frozen into the workflow input. These fields are also settings
    (``Settings`` inherits them, ``INFRAI_<NAME>``): the defaults here are the values a job gets when nothing
    is configured, and ``Settings.job_timings()`` reads the configured ones when a job starts."""

    submit_timeout_seconds: float = 60.0
    # A submit heartbeats while its request is in flight, so a worker that dies mid-submit is noticed in
    # seconds (its retry then reads the submit journal before sending anything).
    submit_heartbeat_timeout_seconds: float = 15.0
    poll_heartbeat_timeout_seconds: float = 60.0
    poll_timeout_seconds: float = 3 * 3600.0
    rehost_timeout_seconds: float = 1800.0
    rehost_heartbeat_timeout_seconds: float = 60.0
    cancel_timeout_seconds: float = 30.0
    poll_initial_interval_seconds: float = 1.0
    poll_max_interval_seconds: float = 15.0
    # Webhooks: one delivery attempt's timeout, and the retry backoff (initial delay, doubling up to the
    # max interval) for as long as retry_for allows.
    webhook_timeout_seconds: float = 15.0
    webhook_retry_initial_seconds: float = 10.0
    webhook_retry_max_interval_seconds: float = 3600.0
    webhook_retry_for_seconds: float = 24 * 3600.0
