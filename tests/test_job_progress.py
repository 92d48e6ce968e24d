"""Waiting without polling: ``Prefer: wait`` on a job, its Server-Sent Events stream (resumable with
``Last-Event-ID``, across an API restart too), and one shared watcher however many clients wait."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.prefer import preferred_wait
from jobs.service import JobService
from jobs.watching import JobWatchHub
from tests.fixtures.stack import Stack

FINAL = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    job: dict[str, Any]


def _read_events(
    stack: Stack, job_id: str, last_event_id: int | None = None, limit: int = 1000
) -> list[Event]:
    """Read the stream until the server ends it (or ``limit`` events)."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[Event] = []
    with (
        stack.client() as client,
        client.stream("GET", f"/v1/video/jobs/{job_id}/events", headers=headers, timeout=120) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in fields:
                    events.append(Event(int(fields["id"]), fields["event"], json.loads(fields["data"])))
                    if len(events) >= limit:
                        break
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return events


def test_prefer_wait_answers_once_the_job_is_final(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a slow sunrise", duration_seconds=2).json()["job_id"]
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}", headers={"Prefer": "wait=60"}, timeout=90)
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=60"
    job = response.json()
    assert job["state"] == "succeeded", job
    assert job["video_url"]


def test_prefer_wait_is_capped_at_60_seconds(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a capped wait").json()["job_id"]
    live_stack.wait_final(job_id)
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}", headers={"Prefer": "respond-async, wait=600"})
    assert response.headers["preference-applied"] == "wait=60"
    assert response.json()["state"] == "succeeded"


def test_without_prefer_the_answer_does_not_wait(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="no waiting", duration_seconds=2).json()["job_id"]
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}")
    assert "preference-applied" not in response.headers
    assert response.json()["state"] in ("queued", "running")


def test_waiting_on_another_projects_job_is_404(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="mine").json()["job_id"]
    with live_stack.client(live_stack.activate()) as client:
        waited = client.get(f"/v1/video/jobs/{job_id}", headers={"Prefer": "wait=5"})
        streamed = client.get(f"/v1/video/jobs/{job_id}/events")
    assert waited.status_code == 404 and waited.json()["code"] == "not_found"
    assert streamed.status_code == 404


def test_the_event_stream_follows_the_job_to_its_end(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a lantern festival", duration_seconds=2).json()["job_id"]
    events = _read_events(live_stack, job_id)
    assert events, "no events"
    assert {event.name for event in events} == {"job"}
    ids = [event.id for event in events]
    assert ids == sorted(set(ids)), ids  # strictly growing
    states = [event.job["state"] for event in events]
    assert states[-1] == "succeeded" and all(state not in FINAL for state in states[:-1])
    assert events[-1].job["video_url"] and events[-1].job["progress"] == 100
    assert len(events) >= 2  # it was followed, not just reported at the end


def test_a_client_that_saw_the_end_is_told_to_stop(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a short story").json()["job_id"]
    last = _read_events(live_stack, job_id)[-1]
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}/events", headers={"Last-Event-ID": str(last.id)})
    assert response.status_code == 204


def test_a_reconnect_resumes_after_an_api_restart(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a long train", duration_seconds=3).json()["job_id"]
    first = _read_events(live_stack, job_id, limit=1)
    assert first and first[0].job["state"] not in FINAL
    live_stack.restart("api")  # SIGKILL: the watcher and the stream die with the process
    resumed = _read_events(live_stack, job_id, last_event_id=first[0].id)
    assert resumed and all(event.id > first[0].id for event in resumed)
    assert resumed[-1].job["state"] == "succeeded"


def test_prefer_wait_works_again_after_an_api_restart(live_stack: Stack) -> None:
    job_id = live_stack.generate(prompt="a second train", duration_seconds=2).json()["job_id"]
    live_stack.restart("api")
    with live_stack.client() as client:
        response = client.get(f"/v1/video/jobs/{job_id}", headers={"Prefer": "wait=60"}, timeout=90)
    assert response.json()["state"] == "succeeded"


async def test_many_waiters_share_one_watcher(live_stack: Stack, temporal_client: Client) -> None:
    jobs = JobService(
        temporal_client,
        live_stack.env["INFRAI_TEMPORAL_TASK_QUEUE"],
        query_timeout=timedelta(seconds=2),
        rpc_timeout=timedelta(seconds=5),
    )
    hub = JobWatchHub(jobs, interval_seconds=0.2)
    job_id = live_stack.generate(prompt="a crowd", duration_seconds=2).json()["job_id"]
    project_id = (await jobs.snapshot(job_id)).project_id

    async def follow() -> list[str]:
        states: list[str] = []
        async with hub.watch(job_id, project_id) as watch:
            while True:
                version, snapshot = watch.version, watch.latest
                assert snapshot is not None
                states.append(snapshot.state.value)
                if snapshot.state.is_final:
                    return states
                await watch.changed_since(version, 30)

    try:
        waited, followed = await asyncio.gather(
            asyncio.gather(*(hub.wait_final(job_id, project_id, within_seconds=60) for _ in range(25))),
            asyncio.gather(*(follow() for _ in range(25))),
        )
    finally:
        await hub.aclose()
    assert [snapshot.state.value for snapshot in waited] == ["succeeded"] * 25
    assert [states[-1] for states in followed] == ["succeeded"] * 25
    assert hub.loops_started == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("wait=10", 10),
        ("WAIT = 5", 5),  # names are case-insensitive, and RFC 7240 allows whitespace around '='
        ('wait="7"', 7),
        ("respond-async, wait=3", 3),
        ("wait=600", 60),
        ("wait=-1", None),
        ("wait=abc", None),
        ("handling=lenient", None),
    ],
)
def test_the_prefer_header_is_read_as_rfc_7240_says(header: str | None, seconds: int | None) -> None:
    assert preferred_wait(header) == seconds


def test_unauthenticated_streams_are_refused(live_stack: Stack) -> None:
    response = httpx.get(f"{live_stack.api_url}/v1/video/jobs/vid_{'0' * 26}/events", timeout=30)
    assert response.status_code == 401
