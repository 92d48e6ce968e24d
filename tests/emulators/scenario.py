"""What every emulator shares: the steerable scenario, task bookkeeping, counters and the control routes.

``POST /_control`` with a JSON ``Scenario`` decides how the next calls are answered::

    {"submit": "rate_limited", "retry_after": 7}      429 with Retry-After on create
    {"submit": "server_error"} / {"submit": "hang"} / {"submit": "malformed"} / {"submit": "refuse"}
    {"submit": "lost_answer"}                         the task is created, but the answer comes too late
    {"poll": "server_error"} ...                      the same faults on status reads
    {"outcome": "moderation", "polls_to_finish": 3}   tasks end refused by moderation after 3 running polls
    {"hold": true}                                    running tasks stay at their last running step
    {"queue_position": 3}                             fal: tasks stay IN_QUEUE at that position while set
    {"output_url_ttl_seconds": 0}                     output URLs answer 403 that long after success
    {"output_file": "/tmp/clip.mp4"}                  every output is that file (streamed), not the 1 s sample

    {"download_seconds": 20}                          output files trickle out over 20 s (a slow CDN)

Holding a request open at a chosen point, until ``POST /_release`` (or ``release_after_seconds``)::

    {"submit": "slow"}                                the create waits before the task exists; a caller
                                                      that gives up meanwhile leaves no task behind
    {"submit": "held_answer"}                         the task exists (counted) at once, its id is answered
                                                      only on release: "accepted, not yet recorded"
    {"download_hold": 0.5}                            an output download stops after half its bytes
                                                      (0: before the first byte) until released

Per-job steering: ``POST /_steer`` with ``{"marker": "m", "scenario": {...}}`` answers every request that
concerns a job whose prompt carries ``[[m]]`` (its create by the body; its status reads, cancels and output
downloads by the task's id in the path) from that scenario instead of the global one, so one emulator
holds many jobs at different moments at once. ``POST /_release`` with ``{"marker": "m"}`` (or ``{}`` for
every held request) opens that job's holds for good. ``GET /_steering`` reports per marker what is held,
how many creates arrived, and each of its tasks' state.

``GET /_stats`` counts submissions (every create that reached the emulator), accepted tasks, polls,
cancels, downloads, rejected credentials, expired downloads and the most vendor calls ever in flight at
once; ``GET /_submissions`` lists when each create arrived. ``POST /_reset`` restores the defaults.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel

from tests.emulators.media import sample_mp4, sample_png

SubmitMode = Literal[
    "accept",
    "rate_limited",
    "server_error",
    "hang",
    "malformed",
    "refuse",
    "lost_answer",
    "slow",
    "held_answer",
]
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
    # fal: tasks stay IN_QUEUE with this queue_position while it is set (None: the usual first-poll queue).
    queue_position: int | None = None
    # Downloads stop after this fraction of the file until released (0: before the first byte).
    download_hold: float | None = None
    # How long "slow", "held_answer" and download holds last without a release; None: until released.
    release_after_seconds: float | None = None


# A job's steering marker in its prompt: ``[[name]]``.
MARKER = re.compile(r"\[\[([A-Za-z0-9_.-]+)\]\]")
# The marker of the job the request being answered concerns (None: the global scenario applies).
_current_marker: contextvars.ContextVar[str | None] = contextvars.ContextVar("marker", default=None)
# Set when the caller of the request being answered hung up (its connection closed).
_current_hangup: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar("hangup", default=None)


def marker_of(text: str) -> str | None:
    found = MARKER.search(text)
    return found.group(1) if found else None


class Steering:
    """Per-job scenarios, the gates that hold their requests open, and what each gate is holding."""

    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.held: dict[tuple[str, str], int] = {}  # (marker or "", "submits"/"downloads") -> open now
        self.submissions: dict[str, int] = {}

    def gate(self, marker: str | None) -> asyncio.Event:
        return self.gates.setdefault(marker or "", asyncio.Event())

    def release(self, marker: str | None) -> None:
        names = [marker] if marker is not None else [*self.gates, *self.scenarios, ""]
        for name in names:
            self.gate(name).set()

    async def hold(self, marker: str | None, what: str, seconds: float | None) -> bool:
        """Wait until released, ``seconds`` passed or the caller hung up; True unless it hung up."""
        key = (marker or "", what)
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(self.gate(marker).wait())]
        hangup = _current_hangup.get()
        if hangup is not None:
            waits.append(asyncio.ensure_future(hangup.wait()))
        self.held[key] = self.held.get(key, 0) + 1
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.held[key] -= 1
            for waiting in waits:
                waiting.cancel()
        return hangup is None or not hangup.is_set()

    def held_now(self, what: str, marker: str | None = None) -> int:
        return sum(n for (name, kind), n in self.held.items() if kind == what and marker in (None, name))

    def reset(self) -> None:
        self.release(None)  # nothing stays held past a reset
        self.scenarios.clear()
        self.gates.clear()
        self.held.clear()
        self.submissions.clear()


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
    global_scenario: Scenario = field(default_factory=Scenario)
    tasks: dict[str, EmulatorTask] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    last_submit: dict[str, Any] = field(default_factory=dict)
    submitted_at: list[float] = field(default_factory=list)
    in_flight: int = 0
    steering: Steering = field(default_factory=Steering)

    @property
    def scenario(self) -> Scenario:
        """The scenario answering the current request: its job's steered one, else the global one."""
        marker = _current_marker.get()
        if marker is not None and marker in self.steering.scenarios:
            return self.steering.scenarios[marker]
        return self.global_scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        self.global_scenario = scenario

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        if name == "submissions":
            self.submitted_at.append(time.time())
            marker = _current_marker.get()
            if marker is not None:
                self.steering.submissions[marker] = self.steering.submissions.get(marker, 0) + 1

    async def hold(self, what: str) -> bool:
        """Hold the current request open as its scenario says; False if the caller hung up meanwhile."""
        seconds = self.scenario.release_after_seconds
        return await self.steering.hold(_current_marker.get(), what, seconds)

    def tasks_of(self, marker: str) -> list[EmulatorTask]:
        return [task for task in self.tasks.values() if marker_of(json.dumps(task.body)) == marker]

    def advance(self, task: EmulatorTask) -> TaskState:
        """One status read of ``task``; a success starts the clock of its output URL's expiry."""
        where = task.advance(self.scenario.hold)
        ttl = self.scenario.output_url_ttl_seconds
        if where == "succeeded" and task.output_expires_at is None and ttl is not None:
            task.output_expires_at = time.time() + ttl
        return where

    async def after_create(self) -> None:
        """``lost_answer``: the task exists now, but its id reaches the caller only after it gave up;
        ``held_answer``: it reaches the caller when released (if the caller is still there)."""
        if self.scenario.submit == "lost_answer":
            await asyncio.sleep(self.scenario.hang_seconds)
        elif self.scenario.submit == "held_answer":
            await self.hold("submits")

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
        stats = {name: self.counters.get(name, 0) for name in names}
        # Requests held open right now, so a test can wait until a job is inside its window.
        stats["held_submits"] = self.steering.held_now("submits")
        stats["held_downloads"] = self.steering.held_now("downloads")
        return stats

    def steering_report(self) -> dict[str, Any]:
        markers = set(self.steering.scenarios) | set(self.steering.submissions)
        return {
            marker: {
                "submissions": self.steering.submissions.get(marker, 0),
                "held_submits": self.steering.held_now("submits", marker),
                "held_downloads": self.steering.held_now("downloads", marker),
                "download_bytes": self.counters.get(f"download_bytes:{marker}", 0),
                "tasks": [
                    {"id": task.id, "state": task.state(), "deleted": task.deleted, "polls": task.polls}
                    for task in self.tasks_of(marker)
                ],
            }
            for marker in sorted(markers)
        }

    def reset(self) -> None:
        self.steering.reset()
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
    if mode == "slow" and not await state.hold("submits"):
        # The caller gave up before the vendor got round to it: nothing was created.
        return error(499, "Client closed request", None)
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
    hold_at = state.scenario.download_hold
    if seconds <= 0 and hold_at is None:
        return Response(data, media_type="video/mp4")
    marker = _current_marker.get()

    async def trickle() -> AsyncIterator[bytes]:
        piece = -(-len(data) // _TRICKLE_PIECES)
        for start in range(0, len(data), piece):
            if hold_at is not None and start <= hold_at * len(data) < start + piece:
                await state.hold("downloads")
            yield data[start : start + piece]
            if marker is not None:
                name = f"download_bytes:{marker}"
                state.counters[name] = state.counters.get(name, 0) + len(data[start : start + piece])
            if seconds > 0:
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

    @router.post("/_steer")
    async def steer(steered: SteeredScenario) -> dict[str, Any]:
        state.steering.scenarios[steered.marker] = steered.scenario
        return steered.model_dump()

    @router.post("/_release")
    async def release(which: Release) -> dict[str, str | None]:
        state.steering.release(which.marker)
        return {"released": which.marker}

    @router.get("/_steering")
    async def steering() -> dict[str, Any]:
        return state.steering_report()

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
    app.add_middleware(SteeringMiddleware, state=state)


class SteeredScenario(BaseModel):
    marker: str
    scenario: Scenario


class Release(BaseModel):
    marker: str | None = None


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class SteeringMiddleware:
    """Finds the job a request concerns (a ``[[marker]]`` in its body, or a task id in its path) so the
    handlers answer from that job's scenario; and notices when the caller hangs up while a request is held.

    Plain ASGI: it reads the whole body first and hands it on unchanged."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        control = (
            scope["type"] == "http" and scope["path"].startswith("/_") and "/_files/" not in scope["path"]
        )
        if (
            scope["type"] != "http"
            or control
            or not (self.state.steering.scenarios or self.state.steering.gates)
        ):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        marker = marker_of(body.decode("utf-8", "replace")) or self._marker_of_path(scope["path"])
        hangup = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            hangup.set()

        watcher = asyncio.ensure_future(watch())
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            await hangup.wait()
            return {"type": "http.disconnect"}

        marker_token = _current_marker.set(marker)
        hangup_token = _current_hangup.set(hangup)
        try:
            await self.app(scope, replay, send)
        finally:
            _current_marker.reset(marker_token)
            _current_hangup.reset(hangup_token)
            watcher.cancel()

    def _marker_of_path(self, path: str) -> str | None:
        for segment in reversed(path.split("/")):
            task = self.state.tasks.get(segment.removesuffix(".mp4"))
            if task is not None:
                return marker_of(json.dumps(task.body))
        return None
