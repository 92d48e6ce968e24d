"""The throughput measure's baseline: a bare Temporal workflow with a job's shape, on a worker of its own.

``BenchPipeline`` runs four activities one after another, as a ``VideoJob`` does: submit and settle on
the workflow's task queue, poll on ``<queue>-poll``, rehost on ``<queue>-rehost``. Each activity returns
at once. ``python -m bench.raw_pipeline ADDRESS QUEUE`` serves those three queues in one process with
the SDK's defaults for everything (sandbox, slots, pollers, cache), as a first Temporal worker would,
until it is sent SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WORKFLOW_NAME = "BenchPipeline"
POLL_SUFFIX = "-poll"
REHOST_SUFFIX = "-rehost"
_TIMEOUT = timedelta(seconds=60)


@activity.defn(name="bench_submit")
async def bench_submit(job_id: str) -> str:
    return job_id


@activity.defn(name="bench_poll")
async def bench_poll(job_id: str) -> str:
    return job_id


@activity.defn(name="bench_rehost")
async def bench_rehost(job_id: str) -> str:
    return job_id


@activity.defn(name="bench_settle")
async def bench_settle(job_id: str) -> str:
    return job_id


@workflow.defn(name=WORKFLOW_NAME)
class BenchPipeline:
    @workflow.run
    async def run(self, job_id: str) -> str:
        queue = workflow.info().task_queue
        await workflow.execute_activity(bench_submit, job_id, start_to_close_timeout=_TIMEOUT)
        await workflow.execute_activity(
            bench_poll, job_id, task_queue=queue + POLL_SUFFIX, start_to_close_timeout=_TIMEOUT
        )
        await workflow.execute_activity(
            bench_rehost, job_id, task_queue=queue + REHOST_SUFFIX, start_to_close_timeout=_TIMEOUT
        )
        await workflow.execute_activity(bench_settle, job_id, start_to_close_timeout=_TIMEOUT)
        return job_id


async def serve(address: str, queue: str) -> None:
    client = await Client.connect(address)
    workers = [
        Worker(client, task_queue=queue, workflows=[BenchPipeline], activities=[bench_submit, bench_settle]),
        Worker(client, task_queue=queue + POLL_SUFFIX, activities=[bench_poll]),
        Worker(client, task_queue=queue + REHOST_SUFFIX, activities=[bench_rehost]),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
