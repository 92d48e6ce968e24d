"""``client.video``: generate, status, cancel, wait, download and models, written once for both clients.

``VideoResource`` is generic in what its methods return: ``Infrai`` binds it to the results themselves
(``Video``), ``AsyncInfrai`` to awaitables of them (``AsyncVideo``). Each method builds a plan and hands it
to the client's driver, which is the only part that is sync or async.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx

from infrai.batches import BatchMethods
from infrai.calls import ClientConfig, call, connection_error, send
from infrai.effects import Plan, SaveBody, Sleep
from infrai.errors import JobStateError, TimeoutError
from infrai.media import MediaFile
from infrai.models import Aspect, CancelResult, ModelList, Prefer, Resolution, VideoBatch, VideoJob
from infrai.polling import poll_until_final

JobT = TypeVar("JobT")
ModelsT = TypeVar("ModelsT")
CancelT = TypeVar("CancelT")
PathT = TypeVar("PathT")
BatchT = TypeVar("BatchT")

PlanRunner = Callable[[Plan[Any]], Any]
OnPoll = Callable[[VideoJob], None]

DEFAULT_WAIT_TIMEOUT = 600.0


def new_idempotency_key() -> str:
    return f"infrai-py-{uuid.uuid4()}"


def _job_path(job_id: str) -> str:
    return f"/v1/video/jobs/{quote(job_id, safe='')}"


def generate_plan(
    config: ClientConfig,
    body: dict[str, Any],
    idempotency_key: str,
    *,
    wait: bool,
    wait_timeout: float | None,
) -> Plan[VideoJob]:
    # The key goes in the header and the body alike and is built into the request once, so every retry
    # of this call repeats it and the server returns the job the first attempt created.
    request = config.request(
        "POST",
        "/v1/video/generate",
        json={**body, "idempotency_key": idempotency_key},
        headers={"Idempotency-Key": idempotency_key},
    )
    job = yield from call(config, request, VideoJob, repeatable=True)
    if wait and not job.is_final:
        job = yield from wait_plan(config, job.job_id, wait_timeout, None)
    return job


def status_plan(config: ClientConfig, job_id: str) -> Plan[VideoJob]:
    request = config.request("GET", _job_path(job_id))
    return (yield from call(config, request, VideoJob, repeatable=True))


def cancel_plan(config: ClientConfig, job_id: str) -> Plan[CancelResult]:
    request = config.request("POST", _job_path(job_id) + "/cancel")
    return (yield from call(config, request, CancelResult, repeatable=True))


def wait_plan(
    config: ClientConfig, job_id: str, timeout: float | None, on_poll: OnPoll | None
) -> Plan[VideoJob]:
    return (
        yield from poll_until_final(
            config,
            lambda: status_plan(config, job_id),
            timeout,
            lambda job: TimeoutError(f"job {job_id} was still {job.state} after {timeout:g}s", job=job),
            on_poll,
        )
    )


def models_plan(config: ClientConfig) -> Plan[ModelList]:
    request = config.request("GET", "/v1/video/models", authenticated=False)
    return (yield from call(config, request, ModelList, repeatable=True))


def download_plan(config: ClientConfig, job_id: str, destination: Path) -> Plan[Path]:
    job = yield from status_plan(config, job_id)  # every status call mints a fresh signed URL
    if job.state != "succeeded" or not job.video_url:
        raise JobStateError(f"job {job_id} is {job.state}; only a succeeded job has a video", job=job)
    target = destination / f"{job.job_id}.mp4" if destination.is_dir() else destination
    url = config.url(job.video_url)
    # Media URLs are signed; the API key is only ever sent back to the API's own origin, never to S3.
    request = config.request("GET", url, headers={"Accept": "*/*"}, authenticated=config.is_own_origin(url))
    retries = 0
    while True:
        response = yield from send(config, request, repeatable=True, stream=True)
        sink = MediaFile(
            target,
            expected_size=job.video.size_bytes if job.video else None,
            expected_sha256=job.video.sha256 if job.video else None,
        )
        try:
            yield SaveBody(response, sink)
        except httpx.TransportError as error:  # the connection dropped mid-body: fetch it again
            delay = config.retry.delay(retries, None)
            if delay is None:
                raise connection_error(error, request) from error
            retries += 1
            yield Sleep(delay)
        else:
            return target


class VideoResource(BatchMethods[BatchT], Generic[JobT, CancelT, PathT, ModelsT, BatchT]):
    def __init__(self, config: ClientConfig, run: PlanRunner) -> None:
        self._config = config
        self._run = run

    def generate(
        self,
        prompt: str,
        *,
        reference_image_url: str | None = None,
        duration_seconds: int | None = None,
        aspect: Aspect | None = None,
        resolution: Resolution = "720p",
        prefer: Prefer = "balanced",
        model: str | None = None,
        vendor: str | None = None,
        idempotency_key: str | None = None,
        deadline_seconds: int | None = None,
        wait: bool = False,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
    ) -> JobT:
        """Start a job (``202``), or get the one this ``idempotency_key`` already started (``200``).

        ``deadline_seconds`` (5 s to 24 h): the job is cancelled if it has not finished that long after it
        started; it then ends ``cancelled`` with ``error.code == "deadline_exceeded"`` (and ``deadline_at``
        says when that is).

        With ``wait=True``, poll until the job is final (see ``wait``). Without an ``idempotency_key`` a
        fresh one is made for this call, so the SDK's own retries can never start a second job.
        """
        fields = {
            "prompt": prompt,
            "reference_image_url": reference_image_url,
            "duration_seconds": duration_seconds,
            "aspect": aspect,
            "resolution": resolution,
            "prefer": prefer,
            "model": model,
            "vendor": vendor,
            "deadline_seconds": deadline_seconds,
        }
        body = {name: value for name, value in fields.items() if value is not None}
        key = idempotency_key or new_idempotency_key()
        plan = generate_plan(self._config, body, key, wait=wait, wait_timeout=wait_timeout)
        return cast(JobT, self._run(plan))

    def status(self, id: str) -> JobT:
        return cast(JobT, self._run(status_plan(self._config, id)))

    def cancel(self, id: str) -> CancelT:
        """Ask for cancellation; ``ok`` is False when the job had already finished."""
        return cast(CancelT, self._run(cancel_plan(self._config, id)))

    def wait(
        self, id: str, *, timeout: float | None = DEFAULT_WAIT_TIMEOUT, on_poll: OnPoll | None = None
    ) -> JobT:
        """Poll with backoff until the job is succeeded, failed or cancelled, and return it.

        A failed or cancelled job is returned, not raised: look at ``job.state`` and ``job.error``.
        Raises ``infrai.TimeoutError`` (carrying the last ``job`` seen) after ``timeout`` seconds;
        ``None`` waits as long as it takes. ``on_poll`` sees every status, e.g. to draw progress.
        """
        return cast(JobT, self._run(wait_plan(self._config, id, timeout, on_poll)))

    def models(self) -> ModelsT:
        """The catalog: each model's availability, prices, lifecycle (``deprecated_on``, ``retired_on``,
        ``successor``, ``aliases``) and measured vendor times (``measured_latency``: p50/p90 per
        resolution and duration, with the sample count)."""
        return cast(ModelsT, self._run(models_plan(self._config)))

    def download(self, id: str, path: str | os.PathLike[str]) -> PathT:
        """Stream the job's MP4 to ``path`` (a file, or a folder to put ``<job_id>.mp4`` in).

        The file appears whole or not at all, after its size and sha256 were checked against the job.
        """
        return cast(PathT, self._run(download_plan(self._config, id, Path(path))))


Video = VideoResource[VideoJob, CancelResult, Path, ModelList, VideoBatch]
AsyncVideo = VideoResource[
    Awaitable[VideoJob],
    Awaitable[CancelResult],
    Awaitable[Path],
    Awaitable[ModelList],
    Awaitable[VideoBatch],
]
