"""The CLI's progress line on stderr: state, stage, progress %, elapsed time and ETA of a job being waited on.

The ETA is the server's (``eta_seconds``, from measured jobs like it or the catalog's typical latency: a
``~`` marks the catalog's guess), plus the vendor's queue position where the vendor reports one."""

from __future__ import annotations

import time
from typing import TextIO

from infrai.models import VideoJob

BAR_WIDTH = 24


def format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_eta(job: VideoJob) -> str:
    """``eta 01:10`` (``eta ~01:10`` when from the catalog, not measured), `` queue #3``; empty when none."""
    if job.is_final or job.eta_seconds is None:
        return ""
    guess = "~" if job.eta_source == "catalog" else ""
    text = f"  eta {guess}{format_elapsed(job.eta_seconds)}"
    if job.queue_position is not None:
        text += f"  queue #{job.queue_position + 1}"  # fal counts from 0: "#1" is next in line
    return text


def render(job: VideoJob, elapsed: float) -> str:
    """``[#########...............]  38%  running/generating  00:42  eta 01:10  vid_...``"""
    if job.state == "succeeded":
        percent: int | None = 100
    else:
        percent = None if job.progress is None else max(0, min(100, job.progress))
    filled = 0 if percent is None else percent * BAR_WIDTH // 100
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    shown_percent = "  -%" if percent is None else f"{percent:3d}%"
    phase = job.state if job.stage is None or job.is_final else f"{job.state}/{job.stage}"
    eta = format_eta(job)
    return f"[{bar}] {shown_percent}  {phase:<20}  {format_elapsed(elapsed)}{eta}  {job.job_id}"


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
