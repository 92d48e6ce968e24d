"""FIFO scheduling of renders onto a spawn-started process pool, off the server's event loop.

The queue hands the pool at most ``workers`` renders at a time (the pool's own queue would hide which tasks
are really rendering), so a task is ``running`` exactly while a render process works on it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pydantic import BaseModel

from localvendor.render_job import RenderJob
from localvendor.render_worker import (
    RenderEnd,
    RenderOrder,
    RenderOutcome,
    init_render_process,
    run_render_order,
    warm_up,
)
from localvendor.task_files import TaskFiles
from localvendor.task_store import TaskRecord, TaskStatus, TaskStore

logger = logging.getLogger(__name__)


class RenderCounters(BaseModel):
    """Renders since this server started; ``stopped`` counts renders that saw a stop flag mid-way."""

    started: int = 0
    succeeded: int = 0
    failed: int = 0
    stopped: int = 0
    active: int = 0


class RenderQueue:
    def __init__(self, store: TaskStore, tasks_root: Path, workers: int, min_seconds: float) -> None:
        self._store = store
        self._tasks_root = tasks_root
        self._workers = max(workers, 1)
        self._min_seconds = min_seconds
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._slots = asyncio.Semaphore(self._workers)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._executor: ProcessPoolExecutor | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self.counters = RenderCounters()

    def files(self, task_id: str) -> TaskFiles:
        return TaskFiles(self._tasks_root, task_id)

    async def start(self) -> None:
        """Start the pool and queue every task a previous run left unfinished (rendering is deterministic,
        so starting such a render again from scratch gives the same video)."""
        self._executor = self._new_executor()
        for _ in range(self._workers):
            self._executor.submit(warm_up)
        for task_id in self._store.requeue_unfinished():
            self.enqueue(task_id)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="render-dispatcher")

    def enqueue(self, task_id: str) -> None:
        self._pending.put_nowait(task_id)

    def stop(self, task_id: str) -> None:
        """Ask a running render to stop at its next frame (the caller has already recorded why)."""
        if task_id in self._running:
            self.files(task_id).request_stop()

    async def aclose(self) -> None:
        """Stop renders in flight without marking them: the next start queues them again."""
        self._closing = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for task_id in list(self._running):
            self.files(task_id).request_stop()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        # "spawn": no fork of a process that runs an event loop and threads.
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_render_process,
        )

    async def _dispatch(self) -> None:
        while True:
            task_id = await self._pending.get()
            await self._slots.acquire()
            record = self._store.get(task_id)
            # A task cancelled while it waited is skipped; mark_running guards against double starts.
            if record is None or record.status is not TaskStatus.QUEUED:
                self._slots.release()
                continue
            # Reset before the task is visibly running, so a cancel from now on leaves a stop flag that stays.
            self.files(task_id).reset_for_render()
            if not self._store.mark_running(task_id):
                self._slots.release()
                continue
            self._running[task_id] = asyncio.create_task(self._render(record), name=f"render-{task_id}")

    async def _render(self, record: TaskRecord) -> None:
        order = RenderOrder(
            task_id=record.id,
            tasks_root=self._tasks_root,
            job=RenderJob(
                prompt=record.prompt,
                duration_seconds=record.duration_seconds,
                aspect=record.aspect,
                resolution=record.resolution,
            ),
            min_seconds=self._min_seconds,
        )
        executor = self._executor
        if executor is None:
            raise RuntimeError("RenderQueue.start() was not called")
        self.counters.started += 1
        self.counters.active += 1
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(executor, run_render_order, order)
        except BrokenProcessPool as exc:
            # A render process died (killed, out of memory). Fail the task rather than retry it forever,
            # and replace the pool once (every render in flight on it sees the same breakage).
            logger.error("render process for %s died: %s", record.id, exc)
            outcome = RenderOutcome(end=RenderEnd.FAILED, error_code="render_crashed", error_message=str(exc))
            if not self._closing and self._executor is executor:
                self._executor = self._new_executor()
        except Exception as exc:  # e.g. an order or outcome that would not pickle: fail, never hang
            logger.exception("render of %s failed outside the renderer", record.id)
            outcome = RenderOutcome(end=RenderEnd.FAILED, error_code="render_failed", error_message=repr(exc))
        finally:
            self.counters.active -= 1
            self._running.pop(record.id, None)
            self._slots.release()
        self._record_outcome(record.id, outcome)

    def _record_outcome(self, task_id: str, outcome: RenderOutcome) -> None:
        if outcome.end is RenderEnd.SUCCEEDED:
            self.counters.succeeded += 1
            # Only from running: a cancel that raced the last frame wins.
            self._store.finish(task_id, TaskStatus.SUCCEEDED, only_from=(TaskStatus.RUNNING,))
        elif outcome.end is RenderEnd.STOPPED:
            # A cancel already recorded its final state; a shutdown leaves it running, to be requeued.
            self.counters.stopped += 1
        else:
            self.counters.failed += 1
            self.files(task_id).discard_partial_files()
            error = (outcome.error_code or "render_failed", outcome.error_message or "render failed")
            self._store.finish(task_id, TaskStatus.FAILED, error=error, only_from=(TaskStatus.RUNNING,))
