"""The submit journal keeps a retried submit from creating a second vendor task.

Each test plays the moment after an attempt died mid-request: the journal says ``sending`` (written
before the request went out), and a new attempt (``attempt=2``) runs the real activity against a vendor
emulator on loopback and the real accounts database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from accounts.store import AccountStore
from accounts.submit_journal import SubmitState
from activities.vendor_submit import VendorSubmitActivities
from core.models import SubmitRequest, VendorTask, VideoSpec
from tests.emulators import kling, runway
from tests.emulators.server import EmulatorServer
from tests.fixtures.localvendor import local_vendor, local_vendor_server  # noqa: F401
from tests.fixtures.vendor_emulators import TEST_OPTIONS, vendor_emulators  # noqa: F401
from vendors.base import VideoVendor
from vendors.kling import KlingVendor
from vendors.local import LOCAL_MODEL, LocalVendor
from vendors.runway import RunwayVendor


@pytest.fixture
def emulators(vendor_emulators: dict[str, EmulatorServer]) -> dict[str, EmulatorServer]:  # noqa: F811
    return vendor_emulators


@pytest.fixture
async def vendors(emulators: dict[str, EmulatorServer]) -> AsyncIterator[dict[str, VideoVendor]]:
    for name in ("runway", "kling"):
        emulators[name].reset()
    built: dict[str, VideoVendor] = {
        "runway": RunwayVendor(runway.API_KEY, base_url=emulators["runway"].base_url, options=TEST_OPTIONS),
        "kling": KlingVendor(
            kling.ACCESS_KEY,
            kling.SECRET_KEY,
            base_url=emulators["kling"].base_url,
            options=TEST_OPTIONS,
        ),
    }
    yield built
    for vendor in built.values():
        await vendor.aclose()


def _request(vendor: str, model: str) -> SubmitRequest:
    job_id = f"vid_{uuid.uuid4().hex[:26]}"
    return SubmitRequest(
        job_id=job_id,
        attempt_key=f"{job_id}-0",
        spec=VideoSpec(prompt="a lighthouse"),
        vendor=vendor,
        model=model,
    )


def _attempt(number: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=number,
        start_to_close_timeout=timedelta(seconds=30),
        heartbeat_timeout=timedelta(seconds=15),
    )
    return env


async def test_a_first_attempt_journals_the_task_the_vendor_accepted(
    account_store: AccountStore, vendors: dict[str, VideoVendor], emulators: dict[str, EmulatorServer]
) -> None:
    activities = VendorSubmitActivities(vendors, account_store.submit_journal())
    req = _request("runway", "gen4.5")
    task = await _attempt(1).run(activities.submit_to_vendor, req)
    record = await account_store.submit_journal().get(req.attempt_key)
    assert record is not None and record.state is SubmitState.ACCEPTED and record.task == task
    assert emulators["runway"].stats()["submissions"] == 1


async def test_a_retry_after_a_recorded_answer_returns_that_task_without_sending(
    account_store: AccountStore, vendors: dict[str, VideoVendor], emulators: dict[str, EmulatorServer]
) -> None:
    journal = account_store.submit_journal()
    req = _request("runway", "gen4.5")
    recorded = VendorTask(vendor="runway", model="gen4.5", task_id="t-1", submitted_at=datetime.now(UTC))
    await journal.sending(req)
    await journal.accepted(req.attempt_key, recorded)  # the worker died before Temporal heard the result
    task = await _attempt(2).run(VendorSubmitActivities(vendors, journal).submit_to_vendor, req)
    assert task == recorded
    assert emulators["runway"].stats()["submissions"] == 0


async def test_a_retry_after_a_request_with_no_answer_is_not_sent_again_where_tasks_cannot_be_found(
    account_store: AccountStore, vendors: dict[str, VideoVendor], emulators: dict[str, EmulatorServer]
) -> None:
    journal = account_store.submit_journal()
    req = _request("runway", "gen4.5")
    await journal.sending(req)  # attempt 1 sent its request, then its worker died
    with pytest.raises(ApplicationError) as failed:
        await _attempt(2).run(VendorSubmitActivities(vendors, journal).submit_to_vendor, req)
    assert failed.value.type == "timeout" and failed.value.non_retryable
    assert failed.value.details[0]["ambiguous"] is True  # the workflow fails the job unbilled, no failover
    assert emulators["runway"].stats()["submissions"] == 0
    record = await journal.get(req.attempt_key)
    assert record is not None and record.state is SubmitState.UNKNOWN
    assert req.attempt_key in [r.attempt_key for r in await journal.possible_orphans(1000)]


async def test_a_retry_finds_the_task_an_earlier_request_created_where_the_vendor_can_look_it_up(
    account_store: AccountStore, vendors: dict[str, VideoVendor], emulators: dict[str, EmulatorServer]
) -> None:
    journal = account_store.submit_journal()
    req = _request("kling", "kling-v2-5-turbo")
    await journal.sending(req)
    created = await vendors["kling"].submit(req.spec, req.model, req.attempt_key)  # it landed; answer lost
    task = await _attempt(2).run(VendorSubmitActivities(vendors, journal).submit_to_vendor, req)
    assert task.task_id == created.task_id
    assert emulators["kling"].stats()["submissions"] == 1  # only the lost one
    record = await journal.get(req.attempt_key)
    assert record is not None and record.state is SubmitState.ACCEPTED


async def test_a_retry_after_a_known_rejection_sends_again(
    account_store: AccountStore, vendors: dict[str, VideoVendor], emulators: dict[str, EmulatorServer]
) -> None:
    journal = account_store.submit_journal()
    activities = VendorSubmitActivities(vendors, journal)
    req = _request("runway", "gen4.5")
    emulators["runway"].configure(submit="server_error")
    with pytest.raises(ApplicationError) as first:
        await _attempt(1).run(activities.submit_to_vendor, req)
    assert not first.value.non_retryable  # one more attempt at this vendor
    record = await journal.get(req.attempt_key)
    assert record is not None and record.state is SubmitState.NOT_CREATED
    emulators["runway"].configure(submit="accept")
    task = await _attempt(2).run(activities.submit_to_vendor, req)
    assert task.vendor == "runway"
    assert emulators["runway"].stats()["accepted"] == 1


async def test_a_retry_at_a_vendor_that_deduplicates_our_key_sends_again_and_gets_the_same_task(
    account_store: AccountStore,
    local_vendor: LocalVendor,  # noqa: F811
) -> None:
    journal = account_store.submit_journal()
    req = _request("local", LOCAL_MODEL)
    await journal.sending(req)
    created = await local_vendor.submit(req.spec, req.model, req.attempt_key)  # it landed; answer lost
    activities = VendorSubmitActivities({"local": local_vendor}, journal)
    task = await _attempt(2).run(activities.submit_to_vendor, req)
    assert task.task_id == created.task_id  # the server answered our key with the task it had
    record = await journal.get(req.attempt_key)
    assert record is not None and record.state is SubmitState.ACCEPTED


async def test_only_the_first_request_of_an_attempt_key_is_journaled_as_a_first_one(
    account_store: AccountStore,
) -> None:
    journal = account_store.submit_journal()
    req = _request("runway", "gen4.5")
    assert await journal.first_sending(req) is True
    assert await journal.first_sending(req) is False  # an earlier attempt's row: the caller reads it first
    record = await journal.get(req.attempt_key)
    assert record is not None and record.state is SubmitState.SENDING and record.attempts == 1
    await journal.sending(req)
    record = await journal.get(req.attempt_key)
    assert record is not None and record.attempts == 2
