"""Our compose services, run exactly as docker-compose.yml runs them (same commands, same environment
variable names, the image's ENV underneath) with only the values moved to loopback: the session's
Temporal dev server in a namespace made by the compose setup script, a fresh PostgreSQL database, and
moto as S3 with the bucket made by the minio-setup command. A job goes through them to a playable video
fetched from its presigned URL; then their metrics, healthchecks and JSON logs are checked."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import ManagedProcess
from tests.fixtures.accounts import DatabaseFactory
from tests.fixtures.compose import REPO, clean_host_env, load_compose, run_namespace_setup, service_env
from tests.fixtures.ports import free_ports
from tests.fixtures.s3 import MOTO_ACCESS_KEY, MOTO_SECRET_KEY, MotoS3
from tests.fixtures.temporal import TemporalServer

LONG_RUNNING = ("localvendor", "api", "worker", "rehoster")
PROMPT = f"a lighthouse keeper counting gulls {uuid.uuid4().hex}"


@dataclass
class ComposeLikeStack:
    services: dict[str, Any]
    env: dict[str, dict[str, str]]
    processes: dict[str, ManagedProcess]
    log_dir: Path
    moto: MotoS3

    @property
    def api_url(self) -> str:
        return self.env["api"]["INFRAI_PUBLIC_BASE_URL"]

    def port(self, service: str, name: str) -> int:
        return int(self.env[service][name])

    def healthcheck(self, service: str) -> subprocess.CompletedProcess[str]:
        """The service's healthcheck ``test``, run like Docker runs a CMD healthcheck in its container."""
        test = self.services[service]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == "python", test
        return subprocess.run(
            [sys.executable, *test[2:]], env=self.env[service], cwd=REPO, capture_output=True, text=True
        )

    def wait_healthy(self, service: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        result = self.healthcheck(service)
        while result.returncode != 0:
            process = self.processes[service]
            if not process.alive():
                raise AssertionError(f"{service} exited: {self.log(service)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{service} never healthy: {result.stderr}\n{self.log(service)[-3000:]}")
            time.sleep(0.5)
            result = self.healthcheck(service)

    def log(self, service: str) -> str:
        return (self.log_dir / f"{service}.log").read_text(errors="replace")


def _loopback_values(
    temporal: TemporalServer, moto: MotoS3, database_url: str, namespace: str, bucket: str
) -> dict[str, dict[str, str]]:
    """Loopback stand-ins for the compose hostnames, by service; only names the service already has are
    replaced (asserted below), so the processes see exactly the compose file's variable names."""
    vendor_port, api_port, *metrics_ports = free_ports(6)
    shared = {
        "INFRAI_TEMPORAL_ADDRESS": temporal.address,
        "INFRAI_TEMPORAL_NAMESPACE": namespace,
        "INFRAI_DATABASE_URL": database_url,
        "INFRAI_S3_BUCKET": bucket,
        "INFRAI_S3_ENDPOINT_URL": moto.endpoint_url,
        "INFRAI_S3_PUBLIC_ENDPOINT_URL": moto.endpoint_url,
        "INFRAI_S3_ACCESS_KEY_ID": MOTO_ACCESS_KEY,
        "INFRAI_S3_SECRET_ACCESS_KEY": MOTO_SECRET_KEY,
        "INFRAI_LOCAL_BASE_URL": f"http://127.0.0.1:{vendor_port}",
        # The image binds every interface (a container's own); on a shared machine, loopback only.
        "INFRAI_API_HOST": "127.0.0.1",
        "INFRAI_LOCAL_VENDOR_HOST": "127.0.0.1",
        "INFRAI_METRICS_HOST": "127.0.0.1",
    }
    workers = {
        name: {
            "INFRAI_WORKER_METRICS_PORT": str(metrics_ports[2 * index]),
            "INFRAI_TEMPORAL_METRICS_PORT": str(metrics_ports[2 * index + 1]),
        }
        for index, name in enumerate(("worker", "rehoster"))
    }
    return {
        "minio-setup": shared,
        "localvendor": {**shared, "INFRAI_LOCAL_VENDOR_PORT": str(vendor_port)},
        "api": {
            **shared,
            "INFRAI_API_PORT": str(api_port),
            "INFRAI_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        },
        **{name: {**shared, **ports} for name, ports in workers.items()},
    }


@pytest.fixture(scope="module")
def compose_stack(
    temporal_server: TemporalServer,
    moto_s3: MotoS3,
    database_factory: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ComposeLikeStack]:
    folder = tmp_path_factory.mktemp("compose")
    namespace, bucket = f"infrai-compose-{uuid.uuid4().hex[:8]}", f"compose-{uuid.uuid4().hex[:12]}"
    setup = run_namespace_setup(temporal_server.address, namespace)  # the temporal-setup service
    assert setup.returncode == 0, setup.stdout + setup.stderr

    services = load_compose()["services"]
    values = _loopback_values(temporal_server, moto_s3, database_factory.new("postgresql"), namespace, bucket)
    env: dict[str, dict[str, str]] = {}
    for name, replacements in values.items():
        compose_env = service_env(services[name])
        adapted = {key: value for key, value in replacements.items() if key in compose_env}
        assert {"INFRAI_API_PORT", "INFRAI_LOCAL_VENDOR_PORT", "INFRAI_WORKER_METRICS_PORT"} & set(
            replacements
        ) <= set(compose_env), f"{name}: a port the compose service does not set"
        compose_env.update(adapted, INFRAI_DATA_DIR=str(folder / name))
        env[name] = {**clean_host_env(), **compose_env}

    def argv(service: str) -> list[str]:
        command = services[service]["command"]
        assert command[0] == "python"
        return [sys.executable, *command[1:]]

    made = subprocess.run(
        argv("minio-setup"), env=env["minio-setup"], cwd=REPO, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr  # minio-setup: service_completed_successfully

    stack = ComposeLikeStack(services, env, {}, folder, moto_s3)
    try:
        for service in LONG_RUNNING:  # the order depends_on imposes
            stack.processes[service] = ManagedProcess(
                service, argv(service), env=env[service], cwd=REPO, log_path=folder / f"{service}.log"
            ).start()
            stack.wait_healthy(service)
        yield stack
    finally:
        for service in reversed(LONG_RUNNING):
            if service in stack.processes:
                stack.processes[service].stop(timeout=30)


@pytest.fixture(scope="module")
def finished_job(compose_stack: ComposeLikeStack) -> dict[str, Any]:
    """A job made the README way: activate a project, generate, poll until it is final."""
    with httpx.Client(base_url=compose_stack.api_url, timeout=30) as client:
        activated = client.post("/v1/accounts/activate")
        assert activated.status_code in (200, 201), activated.text
        key = activated.json()["api_key"]
        client.headers["Authorization"] = f"Bearer {key}"
        started = client.post("/v1/video/generate", json={"prompt": PROMPT, "duration_seconds": 2})
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        deadline = time.monotonic() + 180
        job = started.json()
        while job["state"] not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, f"job not final: {job}"
            time.sleep(0.5)
            job = client.get(f"/v1/video/jobs/{job_id}").json()
    return {**job, "api_key": key}


def test_a_job_through_the_compose_services_ends_in_a_playable_video_on_s3(
    compose_stack: ComposeLikeStack, finished_job: dict[str, Any]
) -> None:
    assert finished_job["state"] == "succeeded", finished_job
    assert finished_job["vendor"] == "local"
    url = finished_job["video_url"]
    assert url.startswith(compose_stack.moto.endpoint_url + "/"), url  # presigned S3, not the API
    video = httpx.get(url, timeout=30)
    assert video.status_code == 200
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.codec_context.name == "h264"
    assert frames >= 24  # two seconds of video


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def test_api_metrics_count_the_job_and_its_requests(
    compose_stack: ComposeLikeStack, finished_job: dict[str, Any]
) -> None:
    samples = _samples(compose_stack.api_url + "/metrics")
    assert _value(samples, "infrai_jobs_started_total", vendor="local", model=finished_job["model"]) == 1
    generate = {"method": "POST", "route": "/v1/video/generate", "status": "202"}
    assert _value(samples, "infrai_http_requests_total", **generate) == 1
    status = {"method": "GET", "route": "/v1/video/jobs/{job_id}", "status": "200"}
    assert _value(samples, "infrai_http_requests_total", **status) >= 1
    latency = {"method": "POST", "route": "/v1/video/generate"}
    assert _value(samples, "infrai_http_request_duration_seconds_count", **latency) == 1


def test_worker_metrics_count_activities_by_vendor_and_the_settled_job(
    compose_stack: ComposeLikeStack, finished_job: dict[str, Any]
) -> None:
    worker = _samples(
        f"http://127.0.0.1:{compose_stack.port('worker', 'INFRAI_WORKER_METRICS_PORT')}/metrics"
    )
    ok_poll = {"activity": "poll_vendor", "vendor": "local", "outcome": "ok"}
    assert _value(worker, "infrai_activity_duration_seconds_count", **ok_poll) == 1
    assert _value(worker, "infrai_vendor_tasks_finished_total", vendor="local", state="succeeded") == 1
    assert _value(worker, "infrai_jobs_finished_total", state="succeeded") == 1
    assert _value(worker, "infrai_credits_released_usd_total") >= 0
    rehoster_port = compose_stack.port("rehoster", "INFRAI_WORKER_METRICS_PORT")
    rehoster = _samples(f"http://127.0.0.1:{rehoster_port}/metrics")
    ok_rehost = {"activity": "rehost_video", "vendor": "local", "outcome": "ok"}
    assert _value(rehoster, "infrai_activity_duration_seconds_count", **ok_rehost) == 1


def test_the_sdk_runtime_serves_temporal_worker_metrics(
    compose_stack: ComposeLikeStack, finished_job: dict[str, Any]
) -> None:
    port = compose_stack.port("worker", "INFRAI_TEMPORAL_METRICS_PORT")
    samples = _samples(f"http://127.0.0.1:{port}/metrics")
    namespace = compose_stack.env["worker"]["INFRAI_TEMPORAL_NAMESPACE"]
    polls = [
        name
        for (name, labels) in samples
        if name.startswith("temporal_") and ("namespace", namespace) in labels
    ]
    assert polls, sorted({name for name, _ in samples})[:20]


def test_every_healthcheck_passes_while_the_stack_runs(compose_stack: ComposeLikeStack) -> None:
    for service in LONG_RUNNING:
        result = compose_stack.healthcheck(service)
        assert result.returncode == 0, (service, result.stderr)


def test_logs_are_json_lines_with_the_job_on_them_and_no_prompt_or_key(
    compose_stack: ComposeLikeStack, finished_job: dict[str, Any]
) -> None:
    job_lines: list[dict[str, Any]] = []
    for service in LONG_RUNNING:
        text = compose_stack.log(service)
        assert PROMPT not in text, service
        assert finished_job["api_key"] not in text, service
        for line in text.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)  # every line is one JSON object
            assert {"ts", "level", "process", "logger", "msg"} <= set(record), line
            if record.get("job_id") == finished_job["job_id"]:
                job_lines.append(record)
    processes = {record["process"] for record in job_lines}
    assert {"api", "worker"} <= processes, processes
    assert all(record.get("vendor") == "local" for record in job_lines if record["process"] == "worker")
