"""The Python SDK as the survival tests' clients use it: patient enough to span a restart or an outage,
retrying with one idempotency key per call as it always does, and counting the requests it really sent."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from infrai import Infrai
from infrai.backoff import RetryPolicy

from tests.fixtures.survival import SurvivalStack

# Patient enough to span an API restart on a loaded machine; the SDK's own backoff and key handling.
RESTART_PROOF_RETRIES = RetryPolicy(max_retries=80, initial_delay=0.2, max_delay=1.0)


class CountingSdk:
    """The Python SDK's client, counting the HTTP requests it sends (retries included)."""

    def __init__(self, survival: SurvivalStack, key: str) -> None:
        self.sent = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(follow_redirects=True, event_hooks={"request": [self._count]})
        self.client = Infrai(
            api_key=key,
            base_url=survival.stack.api_url,
            max_retries=RESTART_PROOF_RETRIES.max_retries,
            retry_policy=RESTART_PROOF_RETRIES,
            timeout=60.0,
            http_client=self._http,
        )

    def generate(self, body: dict[str, Any]) -> str:
        """One ``video.generate`` call (the SDK makes its idempotency key); the job id it ends with."""
        return self.client.video.generate(**body).job_id

    def _count(self, _request: httpx.Request) -> None:
        with self._lock:
            self.sent += 1

    def __enter__(self) -> CountingSdk:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()
