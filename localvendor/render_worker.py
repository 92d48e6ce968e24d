"""What runs inside the render processes of the server's process pool.

Everything here must be importable and picklable on its own: the pool uses the "spawn" start method, so a
worker starts from a fresh interpreter and receives only a ``RenderOrder``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from localvendor.render_job import RenderCancelled, RenderJob
from localvendor.renderer import render_video
from localvendor.task_files import TaskFiles

_PARENT_CHECK_SECONDS = 0.5


class RenderOrder(BaseModel):
    task_id: str
    tasks_root: Path
    job: RenderJob  # without the reference image: the worker reads it from the task's folder
    min_seconds: float = 0.0


class RenderEnd(StrEnum):
    SUCCEEDED = "succeeded"
    STOPPED = "stopped"  # the stop flag was seen: a cancel, or the server shutting down
    FAILED = "failed"


class RenderOutcome(BaseModel):
    end: RenderEnd
    error_code: str | None = None
    error_message: str | None = None


def init_render_process() -> None:
    """Pool initializer: leave Ctrl-C to the server, and never outlive it.

    A server killed with SIGKILL cannot shut its pool down; without the watchdog, its render processes
    would keep rendering (and idle ones would wait forever) as orphans.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=exit_when_orphaned, name="parent-watchdog", daemon=True).start()


def warm_up() -> int:
    """A no-op the server submits at start, so processes are spawned (and PyAV imported) before a task."""
    return os.getpid()


def run_render_order(order: RenderOrder) -> RenderOutcome:
    files = TaskFiles(order.tasks_root, order.task_id)
    job = order.job
    reference = files.read_reference_image()
    if reference is not None:
        job = job.model_copy(update={"reference_image": reference})
    try:
        render_video(
            job, files.video, files.write_progress, files.stop_requested, min_seconds=order.min_seconds
        )
    except RenderCancelled:
        return RenderOutcome(end=RenderEnd.STOPPED)
    except Exception as exc:  # the task fails, the render process lives on for the next one
        return RenderOutcome(end=RenderEnd.FAILED, error_code="render_failed", error_message=repr(exc))
    return RenderOutcome(end=RenderEnd.SUCCEEDED)
