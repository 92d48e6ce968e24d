"""What must hold after any crash, checked against the real stores (not the API's word for it):

- every accepted job reached a final state (here: succeeded);
- every vendor task was submitted exactly once (the local vendor's durable per-key counts; the Runway
  emulator's tasks, one per unique prompt);
- storage holds exactly each job's video, thumbnail and their sidecars: no temporary file, no stray
  object, and every object's bytes hash to the sha256 the job reports;
- the ledger has one hold and one release per job (a charge exactly when the job settled a cost), no entry
  for any other job of the project, nothing still held, and a balance the charges explain.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.fixtures.accounts import fetch_all
from tests.fixtures.survival import TRIAL_CREDITS_USD, SurvivalStack

MICROS = Decimal(1_000_000)


@dataclass
class JobBatch:
    """The jobs one test started in its own project, and how each was asked for."""

    survival: SurvivalStack
    key: str
    project_id: str
    local_jobs: list[str] = field(default_factory=list)
    runway_prompts: dict[str, str] = field(default_factory=dict)  # job id -> its unique prompt
    local_before: dict[str, Any] = field(default_factory=dict)
    runway_before: int = 0

    @classmethod
    def new(cls, survival: SurvivalStack) -> JobBatch:
        key, project_id = survival.stack.new_project()
        return cls(
            survival,
            key,
            project_id,
            local_before=survival.stack.vendor_stats(),
            runway_before=survival.runway_submissions(),
        )

    @property
    def job_ids(self) -> list[str]:
        return self.local_jobs + list(self.runway_prompts)

    def start(self, label: str, local: int = 0, runway: int = 0) -> list[str]:
        """Start ``local`` jobs on the local vendor and ``runway`` on the Runway emulator (each 202)."""
        started = []
        for body in self.bodies(label, local, runway):
            response = self.survival.stack.generate(self.key, **body)
            assert response.status_code == 202, response.text
            started.append(response.json()["job_id"])
            self.adopt(body, started[-1])
        return started

    def bodies(self, label: str, local: int = 0, runway: int = 0) -> list[dict[str, Any]]:
        """Generate bodies with unique prompts, for clients that send them themselves (``adopt`` after)."""
        return [
            {"prompt": f"{label} local {n}", "vendor": "local", "duration_seconds": 1} for n in range(local)
        ] + [
            {"prompt": f"{label} runway {n} {self.project_id}", "vendor": "runway", "duration_seconds": 2}
            for n in range(runway)
        ]

    def adopt(self, body: dict[str, Any], job_id: str) -> None:
        """Count a job some client started from ``body`` into the batch."""
        if body["vendor"] == "local":
            self.local_jobs.append(job_id)
        else:
            self.runway_prompts[job_id] = body["prompt"]

    def wait_all(self, predicate: Any, job_ids: list[str] | None = None, timeout: float = 90.0) -> None:
        for job_id in job_ids or self.job_ids:
            self.survival.stack.wait_for(job_id, predicate, timeout=timeout, key=self.key)

    def check(self, timeout: float = 120.0) -> dict[str, dict[str, Any]]:
        """Wait for every job to end, then check every invariant; the final jobs by id."""
        stack = self.survival.stack
        jobs = {job_id: stack.wait_final(job_id, timeout=timeout, key=self.key) for job_id in self.job_ids}
        assert {job_id: job["state"] for job_id, job in jobs.items()} == dict.fromkeys(jobs, "succeeded")
        self._check_submissions()
        check_media(self.survival.media_root, self.project_id, jobs)
        check_ledger(self.survival.accounts_url, self.project_id, jobs)
        return jobs

    def _check_submissions(self) -> None:
        stats = self.survival.stack.vendor_stats()
        created = stats["by_idempotency_key"]
        assert {job: created.get(f"{job}-0", 0) for job in self.local_jobs} == dict.fromkeys(
            self.local_jobs, 1
        )
        assert stats["submissions"] - self.local_before["submissions"] == len(self.local_jobs)
        tasks = Counter(task.body.get("promptText") for task in self.survival.runway_state.tasks.values())
        prompts = self.runway_prompts.values()
        assert {prompt: tasks[prompt] for prompt in prompts} == dict.fromkeys(prompts, 1)
        assert self.survival.runway_submissions() - self.runway_before == len(self.runway_prompts)


def media_files(media_root: Path, project_id: str) -> set[str]:
    folder = media_root / "videos" / project_id
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def check_media(media_root: Path, project_id: str, jobs: dict[str, dict[str, Any]]) -> None:
    expected = {
        f"{job_id}/{name}"
        for job_id in jobs
        for name in ("video.mp4", "thumbnail.jpg", ".video.mp4.meta.json", ".thumbnail.jpg.meta.json")
    }
    assert media_files(media_root, project_id) == expected  # in particular: no temporary file
    for job_id, job in jobs.items():
        folder = media_root / "videos" / project_id / job_id
        video = (folder / "video.mp4").read_bytes()
        assert hashlib.sha256(video).hexdigest() == job["video"]["sha256"]
        assert len(video) == job["video"]["size_bytes"]
        for name in ("video.mp4", "thumbnail.jpg"):
            sidecar = json.loads((folder / f".{name}.meta.json").read_text())
            assert sidecar["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def check_ledger(database_url: str, project_id: str, jobs: dict[str, dict[str, Any]]) -> None:
    rows = fetch_all(
        database_url,
        "SELECT job_id, kind, amount_micros FROM ledger_entries WHERE project_id = :p AND job_id IS NOT NULL",
        p=project_id,
    )
    entries: dict[str, dict[str, int]] = {}
    for job_id, kind, amount in rows:
        assert kind not in entries.setdefault(str(job_id), {}), f"two {kind} entries for {job_id}"
        entries[str(job_id)][str(kind)] = int(amount)
    assert set(entries) == set(jobs)  # no hold for a job that does not exist
    charged = 0
    for job_id, job in jobs.items():
        settled = int(Decimal(job["cost"]["settled_usd"]) * MICROS)
        expected_kinds = {"hold", "release", "charge"} if settled else {"hold", "release"}
        assert set(entries[job_id]) == expected_kinds, (job_id, entries[job_id])
        assert entries[job_id]["release"] == entries[job_id]["hold"]
        assert entries[job_id].get("charge", 0) == settled
        charged += settled
    balance, held = fetch_all(
        database_url, "SELECT balance_micros, held_micros FROM projects WHERE project_id = :p", p=project_id
    )[0]
    assert held == 0
    assert balance == int(Decimal(TRIAL_CREDITS_USD) * MICROS) - charged
