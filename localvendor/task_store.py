"""Durable generation tasks and idempotency keys, in one small SQLite file.

Every state change is one committed statement, so a server killed at any point restarts with consistent
records: finished tasks are still answered and served, unfinished ones are queued again. The store is used
from the server's event loop only; each call is a sub-millisecond local SQLite statement.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from core.models import Aspect, JobState, Resolution

# A generation has the same five states as a job, final in the same three, and the same wire values.
TaskStatus = JobState


class TaskRecord(BaseModel):
    id: str
    model: str
    prompt: str
    duration_seconds: int
    aspect: Aspect
    resolution: Resolution
    has_reference_image: bool
    idempotency_key: str | None
    fingerprint: str
    status: TaskStatus = TaskStatus.QUEUED
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    render_attempts: int = 0  # how many times a render started (more than one after a restart)
    replays: int = 0  # idempotent retries answered with this task


class IdempotencyConflict(Exception):
    """The idempotency key already names a task created from a different request body."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    aspect TEXT NOT NULL,
    resolution TEXT NOT NULL,
    has_reference_image INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error_code TEXT,
    error_message TEXT,
    render_attempts INTEGER NOT NULL DEFAULT 0,
    replays INTEGER NOT NULL DEFAULT 0
);
"""
_COLUMNS = list(TaskRecord.model_fields)
_INSERT = (
    "INSERT INTO tasks (id, model, prompt, duration_seconds, aspect, resolution, has_reference_image,"
    " idempotency_key, fingerprint, status, created_at, started_at, finished_at, error_code, error_message,"
    " render_attempts, replays)"
    " VALUES (:id, :model, :prompt, :duration_seconds, :aspect, :resolution, :has_reference_image,"
    " :idempotency_key, :fingerprint, :status, :created_at, :started_at, :finished_at, :error_code,"
    " :error_message, :render_attempts, :replays)"
)
_UNFINISHED = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, each statement is its own durable transaction.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, task_id: str) -> TaskRecord | None:
        row = self._db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return _record(row) if row else None

    def find_by_key(self, idempotency_key: str, fingerprint: str) -> TaskRecord | None:
        """The task this key already names (counting the replay), or None; raises on a different body."""
        row = self._db.execute("SELECT * FROM tasks WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        if row is None:
            return None
        if row["fingerprint"] != fingerprint:
            raise IdempotencyConflict(idempotency_key)
        self._db.execute("UPDATE tasks SET replays = replays + 1 WHERE id = ?", (row["id"],))
        return self.get(row["id"])

    def create(self, record: TaskRecord) -> tuple[TaskRecord, bool]:
        """Insert ``record``; if its key was taken meanwhile, answer like ``find_by_key`` instead.

        Returns the task and whether it is new.
        """
        values = {column: _column_value(getattr(record, column)) for column in _COLUMNS}
        try:
            self._db.execute(_INSERT, values)
        except sqlite3.IntegrityError:
            if record.idempotency_key is None:
                raise
            existing = self.find_by_key(record.idempotency_key, record.fingerprint)
            if existing is None:
                raise
            return existing, False
        return record, True

    def mark_running(self, task_id: str) -> bool:
        cursor = self._db.execute(
            "UPDATE tasks SET status = ?, started_at = ?, render_attempts = render_attempts + 1"
            " WHERE id = ? AND status = ?",
            (TaskStatus.RUNNING.value, utc_now().isoformat(), task_id, TaskStatus.QUEUED.value),
        )
        return cursor.rowcount == 1

    def finish(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        error: tuple[str, str] | None = None,
        only_from: tuple[TaskStatus, ...] = (TaskStatus.QUEUED, TaskStatus.RUNNING),
    ) -> bool:
        """Move an unfinished task to a final ``status``; False (and no change) if it was not unfinished."""
        code, message = error or (None, None)
        cursor = self._db.execute(
            "UPDATE tasks SET status = ?, finished_at = ?, error_code = ?, error_message = ?"
            " WHERE id = ? AND status IN (SELECT value FROM json_each(?))",
            (status.value, utc_now().isoformat(), code, message, task_id, json.dumps(list(only_from))),
        )
        return cursor.rowcount == 1

    def requeue_unfinished(self) -> list[str]:
        """After a restart: every task that was queued or rendering goes back to the queue, oldest first."""
        self._db.execute(
            "UPDATE tasks SET status = ?, started_at = NULL WHERE status = ?",
            (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value),
        )
        rows = self._db.execute(
            "SELECT id FROM tasks WHERE status = ? ORDER BY seq", (TaskStatus.QUEUED.value,)
        )
        return [str(row["id"]) for row in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    def counts_by_status(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    def keyed_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(tasks created, idempotent replays answered) per idempotency key."""
        rows = self._db.execute(
            "SELECT idempotency_key, COUNT(*), SUM(replays) FROM tasks"
            " WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key ORDER BY MIN(seq)"
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}, {str(r[0]): int(r[2]) for r in rows}

    def replay_count(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(replays), 0) FROM tasks").fetchone()[0])


def _column_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def _record(row: sqlite3.Row) -> TaskRecord:
    return TaskRecord.model_validate({column: row[column] for column in _COLUMNS})
