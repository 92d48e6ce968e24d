"""How every ``infrai`` command reports: the exit codes, stdout/stderr (``Output``), and a job in words.

``--json`` puts exactly one JSON document on stdout and every human-readable line on stderr.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from infrai.errors import InfraiError
from infrai.models import InfraiModel, VideoJob

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_API_ERROR = 4
EXIT_WAIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

_EXIT_BY_STATE = {"failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED}


class Output:
    """With ``--json`` stdout carries only the JSON result; human-readable lines then go to stderr."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def say(self, message: str) -> None:
        print(message, file=self.stderr if self.as_json else self.stdout)

    def result(self, model: InfraiModel, human: str, extra: dict[str, Any] | None = None) -> None:
        if self.as_json:
            print(json.dumps({**model.to_dict(), **(extra or {})}, indent=2), file=self.stdout)
        else:
            print(human, file=self.stdout)

    def error(self, error: InfraiError) -> None:
        print(f"error: {error}", file=self.stderr)
        if error.request_id:
            print(f"request id: {error.request_id}", file=self.stderr)
        if self.as_json:
            fields = {"status": error.status, "code": error.code, "detail": error.detail}
            body = {**fields, "request_id": error.request_id, "problem": error.problem or None}
            print(json.dumps({"error": body}, indent=2), file=self.stdout)


def describe_job(job: VideoJob) -> str:
    lines = [f"job {job.job_id}: {job.state}" + (f" ({job.stage})" if job.stage and not job.is_final else "")]
    if job.vendor:
        lines.append(f"  vendor   {job.vendor} / {job.model or '?'}")
    if job.cost is not None:
        settled = f", settled ${job.cost.settled_usd}" if job.cost.settled_usd is not None else ""
        lines.append(f"  cost     estimated ${job.cost.estimated_usd}{settled}")
    if job.deadline_at is not None and not job.is_final:
        lines.append(f"  deadline {job.deadline_at.isoformat()}")
    if job.eta_seconds is not None and not job.is_final:
        queue = f", queue #{job.queue_position + 1}" if job.queue_position is not None else ""
        lines.append(f"  eta      {job.eta_seconds}s ({job.eta_source}){queue}, by {job.expected_finish_at}")
    for warning in job.warnings:
        lines.append(f"  warning  {warning.code}: {warning.message}")
    if job.error is not None:
        lines.append(f"  error    {job.error.code}: {job.error.message}")
    if job.video_url:
        lines.append(f"  video    {job.video_url}")
    return "\n".join(lines)


def exit_code_for(job: VideoJob) -> int:
    return _EXIT_BY_STATE.get(job.state, EXIT_OK)
