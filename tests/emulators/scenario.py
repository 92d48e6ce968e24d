"""What every emulator shares: the steerable scenario, task bookkeeping, counters and the control routes.

``POST /_control`` with a JSON ``Scenario`` decides how the next calls are answered::

    {"submit": "rate_limited", "retry_after": 7}      429 with Retry-After on create
    {"submit": "server_error"} / {"submit": "hang"} / {"submit": "malformed"} / {"submit": "refuse"}
    {"submit": "lost_answer"}                         the task is created, but the answer comes too late
    {"poll": "server_error"} ...                      the same faults on status reads
    {"outcome": "moderation", "polls_to_finish": 3}   tasks end refused by moderation after 3 running polls
    {"hold": true}                                    running tasks stay at their last running step
    {"output_url_ttl_seconds": 0}                     output URLs answer 403 that long after success
    {"output_file": "/tmp/clip.mp4"}                  every output is that file (streamed), not the 1 s sample

    {"download_seconds": 20}                          output files trickle out over 20 s (a slow CDN)

``GET /_stats`` counts submissions (every create that reached the emulator), accepted tasks, polls,
cancels, downloads, rejected credentials, expired downloads and the most vendor calls ever in flight at
once; ``GET /_submissions`` lists when each create arrived. ``POST /_reset`` restores the defaults.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel

from tests.emulators.media import sample_mp4, sample_png

SubmitMode = Literal["accept", "rate_limited", "server_error", "hang", "malformed", "refuse", "lost_answer"]
PollMode = Literal["ok", "rate_limited", "server_error", "hang", "malformed"]
Outcome = Literal["succeed", "moderation", "fail"]
TaskState = Literal["queued", "running", "succeeded", "failed", "cancelled"]

MALFORMED_JSON = b'{"id": "half an answer", '
EXPIRED_URL_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


class Scenario(BaseModel):
    submit: SubmitMode = "accept"
    poll: PollMode = "ok"
    outcome: Outcome = "succeed"
    polls_to_finish: int = 2  # status reads that answer "not done yet" before the final state
    retry_after: int = 7
    hang_seconds: float = 10.0
    # Running tasks do not finish while held: lets a test watch a job mid-generation, then release it.
    hold: bool = False
    # Vendor output URLs are presigned and expire; None: never within a test.
    output_url_ttl_seconds: float | None = None
    # What fal reports in x-fal-billable-units; None: the requested duration in seconds.
    billable_units: float | None = None
    download_seconds: float = 0.0  # how long serving one output file takes
    # A video file on this machine to serve as every task's output (the benchmarks' bigger videos).
    output_file: str | None = None


@dataclass
class EmulatorTask:
    id: str
    model: str
    body: dict[str, Any]
    outcome: Outcome
    polls_to_finish: int
    polls: int = 0
    cancelled: bool = False
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    output_expires_at: float | None = None

    def advance(self, hold: bool = False) -> TaskState:
        """Count one status read and say where the task now is (a held task stops short of the end)."""
        if not (hold and self.polls >= self.polls_to_finish and not self.cancelled):
            self.polls += 1
        return self.state()

    def state(self) -> TaskState:
        if self.cancelled:
            return "cancelled"
        if self.polls > self.polls_to_finish:
            return "succeeded" if self.outcome == "succeed" else "failed"
        return "queued" if self.polls <= 1 and self.polls_to_finish > 1 else "running"

    @property
    def progress(self) -> float:
        return min(1.0, self.polls / (self.polls_to_finish + 1))


@dataclass
class EmulatorState:
    scenario: Scenario = field(default_factory=Scenario)
    tasks: dict[str, EmulatorTask] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    last_submit: dict[str, Any] = field(default_factory=dict)
    submitted_at: list[float] = field(default_factory=list)
    in_flight: int = 0

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        if name == "submissions":
            self.submitted_at.append(time.time())

    def advance(self, task: EmulatorTask) -> TaskState:
        """One status read of ``task``; a success starts the clock of its output URL's expiry."""
        where = task.advance(self.scenario.hold)
        ttl = self.scenario.output_url_ttl_seconds
        if where == "succeeded" and task.output_expires_at is None and ttl is not None:
            task.output_expires_at = time.time() + ttl
        return where

    async def after_create(self) -> None:
        """``lost_answer``: the task exists now, but its id reaches the caller only after it gave up."""
        if self.scenario.submit == "lost_answer":
            await asyncio.sleep(self.scenario.hang_seconds)

    def new_task(self, model: str, body: dict[str, Any], task_id: str | None = None) -> EmulatorTask:
        task = EmulatorTask(
            id=task_id or str(uuid.uuid4()),
            model=model,
            body=body,
            outcome=self.scenario.outcome,
            polls_to_finish=self.scenario.polls_to_finish,
        )
        self.tasks[task.id] = task
        self.count("accepted")
        return task

    def stats(self) -> dict[str, int]:
        names = (
            "submissions",
            "accepted",
            "polls",
            "cancels",
            "downloads",
            "expired_downloads",
            "unauthorized",
            "max_in_flight",
        )
        return {name: self.counters.get(name, 0) for name in names}

    def reset(self) -> None:
        self.scenario = Scenario()
        self.tasks.clear()
        self.counters.clear()
        self.last_submit = {}
        self.submitted_at.clear()


ErrorResponder = Callable[[int, str, int | None], Response]


async def injected_fault(
    state: EmulatorState, mode: str, error: ErrorResponder, *, default_status: int = 200
) -> Response | None:
    """The response a fault mode calls for, or None to answer normally. ``hang`` sleeps first."""
    scenario = state.scenario
    if mode == "rate_limited":
        return error(429, "Too many requests; slow down", scenario.retry_after)
    if mode == "server_error":
        return error(500, "Internal server error", None)
    if mode == "malformed":
        return Response(MALFORMED_JSON, status_code=default_status, media_type="application/json")
    if mode == "hang":
        await asyncio.sleep(scenario.hang_seconds)
        return error(504, "Gateway timeout", None)
    return None


def file_url(request: Request, task_id: str) -> str:
    return str(request.base_url) + f"_files/{task_id}.mp4"


_TRICKLE_PIECES = 40


def serve_mp4(state: EmulatorState) -> Response:
    state.count("downloads")
    if state.scenario.output_file is not None:
        return FileResponse(state.scenario.output_file, media_type="video/mp4")
    data = sample_mp4()
    seconds = state.scenario.download_seconds
    if seconds <= 0:
        return Response(data, media_type="video/mp4")

    async def trickle() -> AsyncIterator[bytes]:
        piece = -(-len(data) // _TRICKLE_PIECES)
        for start in range(0, len(data), piece):
            yield data[start : start + piece]
            await asyncio.sleep(seconds / _TRICKLE_PIECES)

    headers = {"Content-Length": str(len(data))}
    return StreamingResponse(trickle(), media_type="video/mp4", headers=headers)


def install_control(app: FastAPI, state: EmulatorState) -> None:
    """The test-only routes every emulator has, plus a public CDN-like file route for outputs."""
    router = APIRouter(include_in_schema=False)

    @app.middleware("http")
    async def gauge_in_flight(request: Request, call_next: Any) -> Any:
        # The most vendor calls ever open at once: lets tests see an adapter's concurrency cap.
        if request.url.path.startswith("/_"):
            return await call_next(request)
        state.in_flight += 1
        state.counters["max_in_flight"] = max(state.counters.get("max_in_flight", 0), state.in_flight)
        try:
            return await call_next(request)
        finally:
            state.in_flight -= 1

    @router.post("/_control")
    async def control(scenario: Scenario) -> dict[str, Any]:
        state.scenario = scenario
        return scenario.model_dump()

    @router.post("/_reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    @router.get("/_stats")
    async def stats() -> dict[str, int]:
        return state.stats()

    @router.get("/_submissions")
    async def submissions() -> list[float]:
        return state.submitted_at

    @router.get("/_last_submit")
    async def last_submit() -> dict[str, Any]:
        return state.last_submit

    @router.get("/_assets/reference.png")
    async def reference_png() -> Response:
        return Response(sample_png(), media_type="image/png")

    @router.get("/_files/{task_id}.mp4")
    async def public_file(task_id: str) -> Response:
        task = state.tasks.get(task_id)
        if task is None or task.deleted:  # a vendor DELETE of a finished task takes its output with it
            return Response(status_code=404)
        if task.output_expires_at is not None and time.time() >= task.output_expires_at:
            state.count("expired_downloads")
            # What an expired presigned S3/CloudFront URL answers.
            return Response(EXPIRED_URL_BODY, status_code=403, media_type="application/xml")
        return serve_mp4(state)

    app.include_router(router)
