"""A scripted API behind ``httpx.MockTransport``: each route answers from a queue, every request is kept.

A test states exactly what the server says and then checks exactly what the SDK sent.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any

import httpx

from infrai import Infrai, PollPacing, RetryPolicy

BASE_URL = "http://api.test"
API_KEY = "ifr_pk_proj_test_key"
# Tiny delays keep the suite quick; the delays themselves are tested on the plans (test_sdk_backoff).
FAST_RETRIES = RetryPolicy(initial_delay=0.001, max_delay=0.002)
FAST_POLLS = PollPacing(interval=0.001, max_interval=0.002)

Reply = httpx.Response | Exception


def job_json(job_id: str = "vid_123", state: str = "queued", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_id": job_id,
        "state": state,
        "stage": None,
        "progress": None,
        "vendor": "local",
        "model": "local-v1",
        "created_at": "2025-01-02T03:04:05Z",
        "started_at": None,
        "finished_at": None,
        "cost": {"estimated_usd": "0.00", "settled_usd": None},
        "error": None,
        "video_url": None,
        "thumbnail_url": None,
        "video": None,
        "deadline_at": None,
        "eta_seconds": None,
        "expected_finish_at": None,
        "eta_source": None,
        "queue_position": None,
        "warnings": [],
    }
    body.update(fields)
    return body


def problem(status: int, code: str, detail: str = "it went wrong", **headers: str) -> httpx.Response:
    body = {"type": f"https://infrai.dev/problems/{code}", "title": "Error", "status": status}
    body.update({"detail": detail, "code": code})
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/problem+json", **headers},
    )


class ScriptedAPI:
    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *replies: Reply) -> None:
        """Queue replies for a route; the last one keeps answering once the others are used up."""
        self.replies[(method, path)].extend(replies)

    def sent(self, method: str | None = None, path: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.url.path == path)
        ]

    def _next(self, request: httpx.Request) -> Reply:
        self.requests.append(request)
        queue = self.replies.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(404, json={"code": "not_found", "detail": f"no script for {request.url}"})
        return queue.popleft() if len(queue) > 1 else queue[0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        reply = self._next(request)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle(request)


def keyless_client(api: ScriptedAPI, **options: Any) -> Infrai:
    """A client with no explicit key, so it resolves one from the environment and credentials file."""
    http = httpx.Client(transport=httpx.MockTransport(api.handle))
    return Infrai(base_url=BASE_URL, http_client=http, retry_policy=FAST_RETRIES, **options)
