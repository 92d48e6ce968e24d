"""Recorded workflow histories: what jobs of earlier releases wrote, replayed against today's code.

``tests/histories/<release>/<path>.json`` is one closed workflow's history exactly as Temporal exports it
(``WorkflowHistory.to_json()``, the same JSON the Temporal UI and ``temporal workflow show -o json`` give), so
a history downloaded from production can be dropped in beside them. ``python -m tests.histories.record``
writes a release's set; ``tests/test_workflow_replay.py`` replays every file.

Names: ``<path>.json`` is a ``VideoJob``; ``<path>.delivery.json`` the ``WebhookDelivery`` child it started;
``batch_<path>.json`` a ``VideoBatch`` and ``<path>.redelivery.json`` a ``BatchWebhookDelivery`` (a batch's
message sent again); a path starting ``encrypted_`` was written with payload encryption on, with
``RECORDING_ENCRYPTION_KEYS``. ``RecordedHistory.workflow_type`` reads the type from the history itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
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

    @cached_property
    def workflow_type(self) -> str:
        """The workflow type the history's first event started (``VideoJob``, ``VideoBatch``, ...)."""
        started = self.load().events[0].workflow_execution_started_event_attributes
        return started.workflow_type.name

    def load(self) -> WorkflowHistory:
        return WorkflowHistory.from_json(f"recorded-{self.release}-{self.path}", self.file.read_text())


def recorded_histories(root: Path = HISTORIES_DIR) -> list[RecordedHistory]:
    """Every recorded history, oldest release first (release folders sort by their date-like names)."""
    return [
        RecordedHistory(file.parent.name, file.name.removesuffix(".json"), file)
        for file in sorted(root.glob("*/*.json"))
    ]
