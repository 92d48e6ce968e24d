"""Where a task's files live, and the two tiny files that cross the process boundary during a render.

``progress`` (an integer, replaced atomically) flows from the render process to the server; ``stop`` (its
mere existence) flows the other way. Both cost one small syscall, so the renderer can check ``stop`` every
frame, and both survive a server restart without any shared-memory bookkeeping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from localvendor.renderer import thumbnail_path_for


class TaskFiles:
    def __init__(self, root: Path, task_id: str) -> None:
        self.directory = root / task_id

    @property
    def video(self) -> Path:
        return self.directory / "video.mp4"

    @property
    def thumbnail(self) -> Path:
        return thumbnail_path_for(self.video)

    @property
    def reference_image(self) -> Path:
        return self.directory / "reference-image"

    @property
    def _progress(self) -> Path:
        return self.directory / "progress"

    @property
    def _stop(self) -> Path:
        return self.directory / "stop"

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def write_reference_image(self, data: bytes) -> None:
        _write_atomically(self.reference_image, data)

    def read_reference_image(self) -> bytes | None:
        try:
            return self.reference_image.read_bytes()
        except FileNotFoundError:
            return None

    def reset_for_render(self) -> None:
        """Forget a previous attempt's progress, stop request and half-written files."""
        self._progress.unlink(missing_ok=True)
        self._stop.unlink(missing_ok=True)
        self.discard_partial_files()

    def discard_partial_files(self) -> None:
        """Remove what a render process killed mid-write left behind (its own cleanup never ran)."""
        for leftover in self.directory.glob(".*.part"):
            leftover.unlink(missing_ok=True)

    def write_progress(self, percent: int) -> None:
        _write_atomically(self._progress, str(percent).encode())

    def read_progress(self) -> int:
        try:
            return int(self._progress.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def request_stop(self) -> None:
        self._stop.touch()

    def stop_requested(self) -> bool:
        return self._stop.exists()


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
