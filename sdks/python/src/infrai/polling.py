"""Polling until something is final: a job (``video.wait``) or a batch (``video.wait_batch``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from infrai.calls import ClientConfig
from infrai.effects import Plan, Sleep
from infrai.models import VideoBatch, VideoJob

Polled = TypeVar("Polled", VideoJob, VideoBatch)


def poll_until_final(
    config: ClientConfig,
    read: Callable[[], Plan[Polled]],
    timeout: float | None,
    timed_out: Callable[[Polled], Exception],
    on_poll: Callable[[Polled], None] | None = None,
) -> Plan[Polled]:
    """``read()`` again, paced by ``config.poll_pacing``, until what it reads is final; past ``timeout``
    seconds, raise ``timed_out(last read)``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    intervals = config.poll_pacing.intervals()
    while True:
        current = yield from read()
        if on_poll is not None:
            on_poll(current)
        if current.is_final:
            return current
        pause = next(intervals)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timed_out(current)
            pause = min(pause, remaining)
        yield Sleep(pause)
