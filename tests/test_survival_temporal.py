"""The Temporal dev server dies (SIGKILL) mid-job and is started again on the same SQLite file. Jobs in
flight carry on where their history left them; a client that generates during the outage is told 503 and
gets its job once Temporal is back. The survival stack has a Temporal server of its own, so this outage
reaches no other test."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.counting_sdk import CountingSdk
from tests.fixtures.survival import SurvivalStack
from tests.job_invariants import JobBatch
from tests.wait import wait_until


def _status_code(survival: SurvivalStack, key: str, job_id: str) -> int:
    with survival.stack.client(key) as client:
        return client.get(f"/v1/video/jobs/{job_id}").status_code


def test_temporal_killed_mid_job_and_restarted_on_its_file_every_job_finishes_once(
    survival: SurvivalStack,
) -> None:
    batch = JobBatch.new(survival)
    survival.runway.configure(polls_to_finish=12)
    batch.start("temporal kill", local=2, runway=2)
    batch.wait_all(lambda job: job["stage"] == "generating")
    [during_outage] = batch.bodies("during the temporal outage", runway=1)

    survival.temporal.kill()
    wait_until(lambda: _status_code(survival, batch.key, batch.job_ids[0]) == 503, what="503 from status")
    with CountingSdk(survival, batch.key) as sdk, ThreadPoolExecutor(1) as pool:
        late_job = pool.submit(sdk.generate, during_outage)
        wait_until(lambda: sdk.sent >= 2, what="the SDK retrying through the outage")
        survival.temporal.start()
        batch.adopt(during_outage, late_job.result(timeout=120))

    batch.check()


def test_the_status_of_a_finished_job_survives_a_temporal_restart(survival: SurvivalStack) -> None:
    batch = JobBatch.new(survival)
    [job_id] = batch.start("finished before the restart", runway=1)
    done = survival.stack.wait_final(job_id, key=batch.key)

    survival.temporal.restart()

    wait_until(lambda: _status_code(survival, batch.key, job_id) == 200, what="status answering again")
    again = survival.stack.job(job_id, batch.key)
    assert (again["state"], again["video"]) == ("succeeded", done["video"])
    video = httpx.get(again["video_url"], timeout=30)
    assert video.status_code == 200
    assert hashlib.sha256(video.content).hexdigest() == done["video"]["sha256"]
