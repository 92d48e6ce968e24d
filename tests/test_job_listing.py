"""Listing jobs from Temporal visibility: newest first, cursor pages, filters, and never another project's
jobs (nor a cursor that would reach them)."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client

from jobs.listing import JobFilter, JobLister, Position
from jobs.service import JobService
from tests.fixtures.stack import Stack


def _list(stack: Stack, key: str, **params: Any) -> Any:
    with stack.client(key) as client:
        return client.get("/v1/video/jobs", params=params)


def _all_ids(stack: Stack, key: str, limit: int, **params: Any) -> tuple[list[str], list[bool]]:
    ids: list[str] = []
    flags: list[bool] = []
    cursor = None
    while True:
        response = _list(stack, key, limit=limit, **({"after": cursor} if cursor else {}), **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        ids += [job["job_id"] for job in page["data"]]
        flags.append(page["has_more"])
        cursor = page["next"]
        assert (cursor is not None) == page["has_more"]
        if not page["has_more"]:
            return ids, flags


@pytest.fixture(scope="module")
def project_jobs(stack: Stack) -> tuple[str, list[str]]:
    """A fresh project with five finished jobs, made one after another (oldest first)."""
    stack.ensure_running()
    key = stack.activate()
    job_ids = []
    for index in range(5):
        response = stack.generate(key, prompt=f"listing job {index}")
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])
    for job_id in job_ids:
        stack.wait_final(job_id, key=key)
    deadline = time.monotonic() + 30  # visibility is eventually consistent
    while time.monotonic() < deadline:
        if len(_list(stack, key, limit=100, state="succeeded").json()["data"]) == 5:
            break
        time.sleep(0.2)
    return key, job_ids


def test_jobs_are_listed_newest_first_in_cursor_pages(
    live_stack: Stack, project_jobs: tuple[str, list[str]]
) -> None:
    key, job_ids = project_jobs
    ids, has_more = _all_ids(live_stack, key, limit=2)
    assert ids == list(reversed(job_ids))
    assert has_more == [True, True, False]


def test_a_listing_shows_jobs_as_status_does(live_stack: Stack, project_jobs: tuple[str, list[str]]) -> None:
    key, job_ids = project_jobs
    listed = _list(live_stack, key, limit=1).json()["data"][0]
    assert listed["job_id"] == job_ids[-1]
    assert listed["state"] == "succeeded" and listed["vendor"] == "local"
    assert listed["video_url"] and listed["video"]["size_bytes"] > 0


def test_filters_narrow_the_listing(live_stack: Stack, project_jobs: tuple[str, list[str]]) -> None:
    key, job_ids = project_jobs
    assert _all_ids(live_stack, key, limit=100, state="succeeded")[0] == list(reversed(job_ids))
    assert _all_ids(live_stack, key, limit=100, state="running")[0] == []
    assert len(_all_ids(live_stack, key, limit=100, vendor="local")[0]) == 5
    assert _all_ids(live_stack, key, limit=100, vendor="runway")[0] == []
    assert _list(live_stack, key, state="exploded").status_code == 422
    assert _list(live_stack, key, vendor="x' OR InfraiProject != '").status_code == 422
    assert _list(live_stack, key, limit=0).status_code == 422


def test_another_projects_jobs_never_appear(live_stack: Stack, project_jobs: tuple[str, list[str]]) -> None:
    key, job_ids = project_jobs
    mine = live_stack.generate(prompt="the dev project's job").json()["job_id"]
    theirs, _ = _all_ids(live_stack, key, limit=100)
    assert mine not in theirs and set(theirs) == set(job_ids)
    ours, _ = _all_ids(live_stack, live_stack.dev_key, limit=100)
    assert not set(job_ids) & set(ours)
    assert _all_ids(live_stack, live_stack.activate(), limit=100)[0] == []


def test_a_cursor_cannot_be_edited_or_carried_elsewhere(
    live_stack: Stack, project_jobs: tuple[str, list[str]]
) -> None:
    key, _ = project_jobs
    cursor = _list(live_stack, key, limit=2).json()["next"]
    body, _, mac = cursor.partition(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    edited = base64.urlsafe_b64encode(payload.replace(b'"o":"desc"', b'"o":"desc" ')).rstrip(b"=").decode()
    for bad in (f"{edited}.{mac}", cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB"), "garbage"):
        response = _list(live_stack, key, after=bad)
        assert response.status_code == 400 and response.json()["code"] == "invalid_cursor", bad
    # The same cursor from another project, or for another filter, is refused too.
    assert _list(live_stack, live_stack.dev_key, after=cursor).status_code == 400
    assert _list(live_stack, key, after=cursor, state="succeeded").status_code == 400
    assert _list(live_stack, key, after=cursor).status_code == 200


async def test_windowed_reads_page_like_a_single_read(
    live_stack: Stack, project_jobs: tuple[str, list[str]], temporal_client: Client
) -> None:
    """The path a large project takes (counting, then widening time windows) gives the same pages."""
    key, job_ids = project_jobs
    first = _list(live_stack, key, limit=1).json()["data"][0]
    description = await temporal_client.get_workflow_handle(first["job_id"]).describe()
    where = JobFilter(str(await description.memo_value("project")))
    for newest_first in (True, False):
        jobs = JobService(
            temporal_client,
            live_stack.env["INFRAI_TEMPORAL_TASK_QUEUE"],
            query_timeout=timedelta(seconds=2),
            rpc_timeout=timedelta(seconds=5),
        )
        lister = JobLister(temporal_client, jobs, fetch_all_below=0)
        seen: list[str] = []
        after: Position | None = None
        while True:
            page = await lister.page(where, after=after, limit=2, newest_first=newest_first)
            seen += [job.job_id for job in page.jobs]
            if not page.has_more:
                break
            after = page.last
        assert seen == (list(reversed(job_ids)) if newest_first else job_ids)
