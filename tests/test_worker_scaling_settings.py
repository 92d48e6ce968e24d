"""Scale-out settings reach the Temporal workers: slots per role, pollers (fixed or autoscaling), and the
activity interceptor that measures every role."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum

from core.settings import Settings
from observability.activity_metrics import ActivityObserver, WorkerMetrics
from worker.roles import build_workers
from workflows.video_job import POLL_QUEUE_SUFFIX, REHOST_QUEUE_SUFFIX


async def test_each_role_gets_its_slots_pollers_and_the_activity_observer(
    temporal_client: Client, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        temporal_task_queue="scaling-q",
        worker_max_concurrent_job_activities=33,
        worker_max_concurrent_activities=1500,
        worker_max_concurrent_rehosts=3,
        worker_workflow_task_pollers=2,
        worker_activity_task_pollers=7,
        worker_max_cached_workflows=250,
    )
    observer = ActivityObserver(WorkerMetrics())
    async with AsyncExitStack() as stack:
        workers = await build_workers(settings, temporal_client, stack, interceptors=[observer])
        configs = {worker.task_queue: worker.config() for worker in workers}
    slots = {queue: config.get("max_concurrent_activities") for queue, config in configs.items()}
    assert slots == {
        "scaling-q": 33,
        "scaling-q" + POLL_QUEUE_SUFFIX: 1500,
        "scaling-q" + REHOST_QUEUE_SUFFIX: 3,
    }
    assert configs["scaling-q"].get("max_cached_workflows") == 250
    for config in configs.values():
        assert config.get("activity_task_poller_behavior") == PollerBehaviorSimpleMaximum(maximum=7)
        assert config.get("workflow_task_poller_behavior") == PollerBehaviorSimpleMaximum(maximum=2)
        assert observer in config.get("interceptors", [])


async def test_autoscaling_pollers_use_the_counts_as_maxima(temporal_client: Client, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        worker_roles="poll",
        worker_activity_task_pollers=40,
        worker_poller_autoscaling=True,
    )
    async with AsyncExitStack() as stack:
        (worker,) = await build_workers(settings, temporal_client, stack)
        behavior = worker.config().get("activity_task_poller_behavior")
    assert behavior == PollerBehaviorAutoscaling(minimum=1, maximum=40, initial=5)
