"""Recorded workflow histories: what jobs of earlier releases wrote, replayed against today's code.

``tests/histories/<release>/<path>.json`` is one closed workflow's history exactly as Temporal exports it
(``WorkflowHistory.to_json()``, the same JSON the Temporal UI and ``temporal workflow show -o json`` give), so
a history downloaded from production can be dropped in beside them. ``python -m tests.histories.record``
writes a release's set; ``tests/test_workflow_replay.py`` replays every file.

Names: ``<path>.json`` is a ``VideoJob``; ``<path>.delivery.json`` the ``WebhookDelivery`` child it started;
a path starting ``encrypted_`` was written with payload encryption on, with ``RECORDING_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHistory

HISTORIES_DIR = Path(__file__).parent  # not resolve(): the workflow sandbox imports this package too

# The key the recorder encrypts with (test data, never a production key): the replayer decrypts with it.
RECORDING_ENCRYPTION_KEYS = "replay1:cmVwbGF5LWNvcnB1cy1rZXktbm90LWEtc2VjcmV0LSE="


@dataclass(frozen=True)
class RecordedHistory:
    release: str
    path: str  # the file's stem: what the job went through
    file: Path

    @property
    def encrypted(self) -> bool:
        return self.path.startswith("encrypted_")

    @property
    def name(self) -> str:
        return f"{self.release}/{self.path}"

    def load(self) -> WorkflowHistory:
        return WorkflowHistory.from_json(f"recorded-{self.release}-{self.path}", self.file.read_text())


def recorded_histories(root: Path = HISTORIES_DIR) -> list[RecordedHistory]:
    """Every recorded history, oldest release first (release folders sort by their date-like names)."""
    return [
        RecordedHistory(file.parent.name, file.name.removesuffix(".json"), file)
        for file in sorted(root.glob("*/*.json"))
    ]
