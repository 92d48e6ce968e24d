"""The CLI's progress line on stderr: state, stage, progress % and elapsed time of a job being waited on."""

from __future__ import annotations

import time
from typing import TextIO

from infrai.models import VideoJob

BAR_WIDTH = 24


def format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def render(job: VideoJob, elapsed: float) -> str:
    """``[#########...............]  38%  running/generating  00:42  vid_...``"""
    if job.state == "succeeded":
        percent: int | None = 100
    else:
        percent = None if job.progress is None else max(0, min(100, job.progress))
    filled = 0 if percent is None else percent * BAR_WIDTH // 100
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    shown_percent = "  -%" if percent is None else f"{percent:3d}%"
    phase = job.state if job.stage is None or job.is_final else f"{job.state}/{job.stage}"
    return f"[{bar}] {shown_percent}  {phase:<20}  {format_elapsed(elapsed)}  {job.job_id}"


class ProgressBar:
    """Redraws one line on a terminal; on a pipe or file, writes a line only when something changed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._interactive = stream.isatty()
        self._started = time.monotonic()
        self._last: tuple[str, str | None, int | None] | None = None
        self._width = 0

    def update(self, job: VideoJob) -> None:
        line = render(job, time.monotonic() - self._started)
        if self._interactive:
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        elif (job.state, job.stage, job.progress) != self._last:
            self._stream.write(line + "\n")
        self._last = (job.state, job.stage, job.progress)
        self._stream.flush()

    def finish(self) -> None:
        if self._interactive and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()
