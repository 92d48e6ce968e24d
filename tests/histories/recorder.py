"""The recorder's handle on its stack: drive a job or batch down a path, then save its workflow's history
as ``<path>.json`` (``tests.histories.record`` and ``tests.histories.record_batches`` share it)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client

from tests.emulators.server import EmulatorServer
from tests.fixtures.stack import Stack
from tests.fixtures.webhook_receiver import WebhookReceiver


@dataclass
class Recorder:
    stack: Stack
    emulators: dict[str, EmulatorServer]
    receiver: WebhookReceiver
    client: Client
    out: Path
    only: set[str]
    encrypted: Stack | None = None

    # -- saving ----------------------------------------------------------------------------------------
    def save(self, path: str, workflow_id: str, ended: str = "") -> None:
        history = asyncio.run(self._history_json(workflow_id))
        events = json.loads(history)["events"]
        (self.out / f"{path}.json").write_text(history + "\n")
        print(f"  {path}: {len(events)} events{ended}")

    async def _history_json(self, workflow_id: str) -> str:
        handle = self.client.get_workflow_handle(workflow_id)
        history = await handle.fetch_history()
        return history.to_json()

    def wanted(self, path: str) -> bool:
        return not self.only or path in self.only

    # -- driving jobs ----------------------------------------------------------------------------------
    def generate(self, stack: Stack | None = None, key: str | None = None, **body: Any) -> str:
        response = (stack or self.stack).generate(key, **body)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    def finish(self, path: str, job_id: str, state: str | None, code: str | None = None, **kw: Any) -> None:
        """Save the job's history once it ended; ``state``/``code``: how it must have ended (the path was
        really taken), None where how it ends is the release's own decision (a cancel mid-submit)."""
        stack = kw.pop("stack", None) or self.stack
        job = stack.wait_final(job_id, timeout=120, key=kw.pop("key", None))
        got = (job["state"], (job.get("error") or {}).get("code"))
        assert state in (None, got[0]) and code in (None, got[1]), f"{path}: ended {got}, wanted {state}"
        self.save(path, job_id, f", ended {got[0]}" + (f" ({got[1]})" if got[1] else ""))

    def cancel(self, job_id: str) -> None:
        with self.stack.client() as client:
            client.post(f"/v1/video/jobs/{job_id}/cancel").raise_for_status()

    def reset(self) -> None:
        for server in self.emulators.values():
            server.reset()


def until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g}s")
        time.sleep(0.05)
