"""Heartbeating while one slow vendor call is in flight.

A heartbeat timeout is how Temporal notices a dead worker quickly, so it must never fire on a live one:
a single vendor request (a slow image-to-video upload, a poll the vendor answers late) can take longer
than the heartbeat timeout, so the activity heartbeats in the background for as long as the call runs,
not only between calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio import activity

# Without a heartbeat timeout (an older workflow version scheduled the activity) beat this often anyway.
_DEFAULT_STEP_SECONDS = 10.0


@contextlib.asynccontextmanager
async def heartbeating(*details: Any) -> AsyncIterator[None]:
    """Heartbeat ``details`` at least three times per heartbeat timeout until the block ends. Not at once:
    the poll already heartbeats between its requests, and each heartbeat past the throttle is billed."""
    timeout = activity.info().heartbeat_timeout
    step = timeout.total_seconds() / 3 if timeout else _DEFAULT_STEP_SECONDS

    async def beat() -> None:
        while True:
            await asyncio.sleep(step)
            activity.heartbeat(*details)

    beater = asyncio.create_task(beat())
    try:
        yield
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater
