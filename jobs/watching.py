"""One shared watcher per job in the API process, for ``Prefer: wait`` and the job's event stream.

However many clients wait on a job, one task reads its state (``JobService.snapshot``: describe, plus the
``status`` query while it runs) every ``INFRAI_JOB_WATCH_INTERVAL_SECONDS`` and wakes them when it changes.
Nothing waits inside Temporal or on a worker: waiters hold an asyncio event in this process, so an API
restart loses nothing a client cannot get back by asking again (``Last-Event-ID`` for streams). The loop
ends when the job is final or its last waiter leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.models import JobSnapshot, JobState, Stage
from jobs.errors import JobError, JobNotFound, JobStateUnavailable
from jobs.service import JobService

logger = logging.getLogger(__name__)

_PHASES: dict[Stage | None, int] = {None: 2, Stage.SUBMITTING: 2, Stage.GENERATING: 3, Stage.REHOSTING: 4}


def progress_position(snapshot: JobSnapshot) -> int:
    """Where the job is on its way, as one number that only grows: the phase (queued 1; running 2-4 by
    stage; final 9) times 1000 plus the progress. It is the event stream's ``id``, so a reconnecting client's
    ``Last-Event-ID`` says exactly what it has seen, whichever API process answers."""
    if snapshot.state.is_final:
        phase = 9
    elif snapshot.state is JobState.QUEUED:
        phase = 1
    else:
        phase = _PHASES[snapshot.stage]
    return phase * 1000 + max(0, min(100, snapshot.progress or 0))


class JobWatch:
    """The latest snapshot of one job, and an event that fires when it changes."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.latest: JobSnapshot | None = None
        self.version = 0
        self.error: JobError | None = None
        self.waiters = 0
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def publish(self, snapshot: JobSnapshot | None, error: JobError | None = None) -> None:
        if snapshot is not None:
            self.latest = snapshot
        self.error = error
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed_since(self, version: int, within_seconds: float) -> bool:
        """Wait until the version passes ``version`` (True) or ``within_seconds`` pass (False)."""
        event = self._changed
        if self.version > version:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_seconds):
                await event.wait()
        return self.version > version


class JobWatchHub:
    def __init__(self, jobs: JobService, interval_seconds: float) -> None:
        self._jobs = jobs
        self._interval = interval_seconds
        self._watches: dict[str, JobWatch] = {}
        self.loops_started = 0  # how many poll loops ran: one per watched job, however many waiters

    @asynccontextmanager
    async def watch(self, job_id: str, project_id: str) -> AsyncIterator[JobWatch]:
        """Join the job's watch (starting its loop if needed) once its first snapshot is in; 404 when the
        job does not exist or belongs to another project."""
        watch = self._watches.get(job_id)
        if watch is None:
            watch = self._watches[job_id] = JobWatch(job_id)
            watch.task = asyncio.create_task(self._poll(watch), name=f"watch {job_id}")
            self.loops_started += 1
        watch.waiters += 1
        try:
            while watch.latest is None and watch.error is None:
                await watch.changed_since(watch.version, 60.0)
            if watch.latest is None and watch.error is not None:
                raise watch.error
            if watch.latest is not None and watch.latest.project_id != project_id:
                raise JobNotFound(job_id)
            yield watch
        finally:
            watch.waiters -= 1
            if watch.waiters == 0 and self._watches.get(job_id) is watch:
                del self._watches[job_id]
                if watch.task is not None:
                    watch.task.cancel()

    async def aclose(self) -> None:
        """Stop every poll loop (at shutdown)."""
        tasks = [watch.task for watch in self._watches.values() if watch.task is not None]
        self._watches.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_final(self, job_id: str, project_id: str, within_seconds: float) -> JobSnapshot:
        """The job once it is final, or as it is when ``within_seconds`` have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        async with self.watch(job_id, project_id) as watch:
            while True:
                assert watch.latest is not None
                remaining = deadline - loop.time()
                if watch.latest.state.is_final or remaining <= 0:
                    return watch.latest
                await watch.changed_since(watch.version, remaining)

    async def _poll(self, watch: JobWatch) -> None:
        seen: tuple[int, JobState] | None = None
        while True:
            try:
                snapshot = await self._jobs.snapshot(watch.job_id)
            except JobError as err:
                # Not found is final; an outage keeps the last snapshot and tries again.
                watch.publish(None, err)
                if isinstance(err, JobNotFound):
                    return
            except Exception:
                logger.exception("watching job %s failed; retrying", watch.job_id)
                watch.publish(None, JobStateUnavailable("the job's state is unavailable; retry"))
            else:
                key = (progress_position(snapshot), snapshot.state)
                if key != seen or watch.latest is None:
                    seen = key
                    watch.publish(snapshot)
                if snapshot.state.is_final:
                    return
            await asyncio.sleep(self._interval)
