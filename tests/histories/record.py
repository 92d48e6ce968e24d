"""Record this release's workflow histories: ``python -m tests.histories.record --release 2026-12-v1``.

Starts a stack of its own (a Temporal dev server, the worker, API and local vendor as real processes, the
paid vendors' loopback emulators, a webhook receiver), drives one real job down each path a job can take
(and one batch down each of a batch's, ``record_batches``), and saves each closed workflow's history under
``tests/histories/<release>/<path>.json``. Run it once per release, before the release's workflow changes
are deployed, and commit the files: the replay test then holds every later release to them. ``--only``
re-records some paths; nothing else is overwritten.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.models import JobInput, JobSnapshot, JobState, RouteCandidate, VideoSpec
from core.settings import Settings
from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer, launch_temporal_server
from tests.fixtures.vendor_emulators import EMULATED_VENDORS, emulator_environment
from tests.fixtures.vendor_stack import HANG_SECONDS, VENDOR_STACK_TIMINGS
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.histories import HISTORIES_DIR, RECORDING_ENCRYPTION_KEYS
from tests.histories.record_batches import record_batches
from tests.histories.recorder import Recorder, until
from workflows import search_attributes as sa
from workflows.connection import connect
from workflows.video_job import WORKFLOW_NAME
from workflows.webhook_delivery import webhook_workflow_id

# Requests whose planned route starts with the vendor named (the same as tests/test_vendor_failover.py):
# runway then google, and fal then kling.
RUNWAY_FIRST: dict[str, Any] = {"prefer": "cheapest", "duration_seconds": 8, "resolution": "720p"}
FAL_FIRST: dict[str, Any] = {"prefer": "cheapest", "duration_seconds": 5, "resolution": "1080p"}
RUNWAY_ONLY: dict[str, Any] = {"vendor": "runway", "model": "gen4.5", "duration_seconds": 5}
HOOK_PATH = "/recorded-hook"


def _stage(stack: Stack, job_id: str, stage: str) -> Callable[[], bool]:
    return lambda: stack.job(job_id)["stage"] == stage


# -- the paths ---------------------------------------------------------------------------------------------


def record_outcomes(r: Recorder) -> None:
    """Jobs that end on their own: success, and each way a job fails."""
    runway = r.emulators["runway"]
    paths: list[tuple[str, dict[str, Any], dict[str, Any], str, str | None]] = [
        ("succeeded", {}, {"vendor": "local"}, "succeeded", None),
        ("succeeded_paid_vendor", {}, RUNWAY_ONLY, "succeeded", None),
        ("content_policy_at_submit", {"submit": "refuse"}, FAL_FIRST, "failed", "content_policy"),
        ("content_policy_after_generation", {"submit": "refuse"}, RUNWAY_ONLY, "failed", "content_policy"),
        ("vendor_error_after_acceptance", {"outcome": "fail"}, RUNWAY_ONLY, "failed", "vendor_error"),
        ("rehost_output_expired", {"output_url_ttl_seconds": 0}, RUNWAY_ONLY, "failed", "vendor_error"),
        ("failover_after_503", {"submit": "server_error"}, RUNWAY_FIRST, "succeeded", None),
        ("ambiguous_submit_timeout", {"submit": "lost_answer", "hang_seconds": HANG_SECONDS}, RUNWAY_ONLY,
         "failed", None),
    ]  # fmt: skip
    for path, scenario, body, state, code in paths:
        if not r.wanted(path):
            continue
        r.reset()
        vendor = "fal" if body is FAL_FIRST else "runway"
        if scenario:
            r.emulators[vendor].configure(**scenario)
        r.finish(path, r.generate(prompt=f"recorded {path}", **body), state, code)
    runway.reset()


def record_storage_error(r: Recorder) -> None:
    if not r.wanted("storage_error"):
        return
    key, project_id = r.stack.new_project()
    # A file where the project's video folder should be: every write under it fails, and not transiently.
    videos = r.stack.data_dir / "media" / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    (videos / project_id).write_text("not a folder")
    job_id = r.generate(key=key, prompt="recorded storage_error", vendor="local")
    r.finish("storage_error", job_id, "failed", "storage_error", key=key)


def record_direct_starts(r: Recorder) -> None:
    """Routes the API never plans today but the workflow must still end cleanly on: none at all, and one
    whose only vendor rejects the request as invalid (started here directly, as the API would)."""
    _, project_id = r.stack.new_project()
    routes = {
        "no_route": [],
        "invalid_input_at_every_vendor": [
            RouteCandidate(vendor="runway", model="gen-unknown", estimated_cost_usd=Decimal("0.60"))
        ],
    }
    for path, route in routes.items():
        if r.wanted(path):
            job_id = asyncio.run(_start_directly(r, project_id, route))
            r.save(path, job_id)


async def _start_directly(r: Recorder, project_id: str, route: list[RouteCandidate]) -> str:
    job = JobInput(
        job_id=f"vid_{uuid.uuid4().hex[:26]}",
        project_id=project_id,
        spec=VideoSpec(prompt="recorded direct start", duration_seconds=5),
        route=route,
        created_at=datetime.now(UTC),
    )
    handle = await r.client.start_workflow(
        WORKFLOW_NAME,
        job,
        id=job.job_id,
        task_queue=r.stack.env["INFRAI_TEMPORAL_TASK_QUEUE"],
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.PROJECT, project_id)]),
        result_type=JobSnapshot,
    )
    try:
        await handle.result()
    except WorkflowFailureError:
        return job.job_id
    raise AssertionError(f"{job.job_id} with route {route} succeeded")


def record_cancels(r: Recorder) -> None:
    """Cancelled at each stage: while the submit is in flight, while the vendor generates, mid-rehost."""
    runway = r.emulators["runway"]
    scenarios: dict[str, tuple[dict[str, Any], str]] = {
        "cancelled_submitting": ({"submit": "hang", "hang_seconds": HANG_SECONDS}, "submitting"),
        "cancelled_generating": ({"hold": True}, "generating"),
        # Long enough to cancel mid-copy, short enough for a release that lets the copy finish.
        "cancelled_rehosting": ({"download_seconds": 8}, "rehosting"),
    }
    for path, (scenario, stage) in scenarios.items():
        if not r.wanted(path):
            continue
        r.reset()
        runway.configure(**scenario)
        job_id = r.generate(prompt=f"recorded {path}", **RUNWAY_ONLY)
        until(lambda: runway.stats()["submissions"] >= 1, "the submit reaching the vendor")
        if stage == "rehosting":
            until(lambda: runway.stats()["downloads"] >= 1, "the download under way")
        until(_stage(r.stack, job_id, stage), f"{path}: stage {stage}")
        r.cancel(job_id)
        r.finish(path, job_id, None)  # how a cancel ends there is each release's decision
    r.reset()


def record_deadlines(r: Recorder) -> None:
    """Jobs with a deadline: one it cancels mid-generation, one whose deadline passes mid-rehost (the video
    exists, so it changes nothing), one that finishes first (its timer never fires)."""
    runway = r.emulators["runway"]
    scenarios: dict[str, tuple[dict[str, Any], int, str, str | None]] = {
        "deadline_generating": ({"hold": True}, 5, "cancelled", "deadline_exceeded"),
        "deadline_rehosting": ({"download_seconds": 8}, 6, "succeeded", None),
        "deadline_not_reached": ({}, 3600, "succeeded", None),
    }
    for path, (scenario, seconds, state, code) in scenarios.items():
        if not r.wanted(path):
            continue
        r.reset()
        runway.configure(**scenario)
        job_id = r.generate(prompt=f"recorded {path}", deadline_seconds=seconds, **RUNWAY_ONLY)
        r.finish(path, job_id, state, code)
    r.reset()


def record_webhook(r: Recorder) -> None:
    """A job whose webhook receiver answers 500 twice, then 200: the job's and the delivery's histories."""
    if not r.wanted("webhook_after_retries"):
        return
    r.receiver.answer(HOOK_PATH, 500)
    job_id = r.generate(prompt="recorded webhook", vendor="local", webhook_url=r.receiver.url(HOOK_PATH))
    r.receiver.wait_for(HOOK_PATH, lambda hooks: len(hooks) >= 2)
    r.receiver.answer(HOOK_PATH, 200)
    r.finish("webhook_after_retries", job_id, "succeeded")
    delivery_id = webhook_workflow_id(job_id, JobState.SUCCEEDED)
    asyncio.run(_wait_closed(r.client, delivery_id))
    r.save("webhook_after_retries.delivery", delivery_id)


async def _wait_closed(client: Client, workflow_id: str) -> None:
    await client.get_workflow_handle(workflow_id).result()


def record_encrypted(r: Recorder) -> None:
    if r.encrypted is None:
        return
    job_id = r.generate(r.encrypted, prompt="recorded encrypted job", vendor="local")
    r.finish("encrypted_succeeded", job_id, "succeeded", stack=r.encrypted)


# -- the stack ---------------------------------------------------------------------------------------------


@contextmanager
def _emulators() -> Iterator[dict[str, EmulatorServer]]:
    servers = {
        name: EmulatorServer(name, factory(), base_path=base_path).start()
        for name, (factory, base_path) in EMULATED_VENDORS.items()
    }
    try:
        yield servers
    finally:
        for server in servers.values():
            server.request_stop()
        for server in servers.values():
            server.stop()


def record(release: str, only: set[str]) -> None:
    out = HISTORIES_DIR / release
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="record-histories-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        print(f"recording {release} into {out} (logs under {root})")
        (root / "temporal").mkdir()
        temporal = launch_temporal_server(root / "temporal")
        stack.callback(temporal.process.stop, 10)
        emulators = stack.enter_context(_emulators())
        receiver = WebhookReceiver()
        stack.callback(receiver.close)
        main = stack.enter_context(_main_stack(temporal, root / "stack", emulators, receiver))
        encrypted = None
        if not only or "encrypted_succeeded" in only:
            (root / "encrypted").mkdir()
            encrypted = stack.enter_context(
                started_stack(
                    temporal, root / "encrypted", INFRAI_PAYLOAD_ENCRYPTION_KEYS=RECORDING_ENCRYPTION_KEYS
                )
            )
        client = asyncio.run(connect(Settings(temporal_address=temporal.address)))
        recorder = Recorder(main, emulators, receiver, client, out, only, encrypted)
        for step in (
            record_outcomes,
            record_storage_error,
            record_direct_starts,
            record_cancels,
            record_deadlines,
            record_webhook,
            record_encrypted,
            record_batches,
        ):
            step(recorder)


def _main_stack(
    temporal: TemporalServer, data_dir: Path, emulators: dict[str, EmulatorServer], receiver: WebhookReceiver
) -> Any:
    data_dir.mkdir(parents=True)
    overrides = {
        **emulator_environment(emulators),
        **VENDOR_STACK_TIMINGS,
        "INFRAI_URL_ALLOWLIST": f"127.0.0.1:{receiver.port}",
        "INFRAI_WEBHOOK_RETRY_INITIAL_SECONDS": "0.5",
        "INFRAI_WEBHOOK_RETRY_MAX_INTERVAL_SECONDS": "1",
        "INFRAI_WEBHOOK_TIMEOUT_SECONDS": "5",
    }
    return started_stack(temporal, data_dir, **overrides)  # type: ignore[arg-type]  # env names only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", required=True, help="the release these histories belong to")
    parser.add_argument("--only", nargs="*", default=[], help="record only these paths")
    args = parser.parse_args()
    record(args.release, set(args.only))


if __name__ == "__main__":
    main()
