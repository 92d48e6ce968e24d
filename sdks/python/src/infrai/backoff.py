"""How long to wait: between retries of one request, and between status polls of one job."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for 429/5xx/connection errors.

    A ``Retry-After`` the server sends is obeyed as given; one longer than ``max_retry_after`` (a daily
    quota, say) is not slept through: the error is raised at once so the caller can decide.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, retries_done: int, retry_after: float | None) -> float | None:
        """Seconds before the next attempt, or None when no retry should be made."""
        if retries_done >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.initial_delay * 2.0**retries_done)
        # Jitter spreads out clients that failed together so they do not come back together.
        return ceiling * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class PollPacing:
    """Status polls start quick (short jobs finish fast) and slow down to ``max_interval``."""

    interval: float = 1.0
    max_interval: float = 10.0
    factor: float = 1.5

    def intervals(self) -> Iterator[float]:
        current = self.interval
        while True:
            yield min(current, self.max_interval) * random.uniform(0.9, 1.0)
            current = min(current * self.factor, self.max_interval)
