"""Job ids. The workflow id *is* the job id, so an idempotency key maps to exactly one workflow."""

from __future__ import annotations

import hashlib
import re
import secrets

JOB_ID_PREFIX = "vid_"
_JOB_ID_RE = re.compile(r"^vid_[0-9a-z]{26}$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 36)
        chars.append(_ALPHABET[rem])
    return "".join(chars)


def new_job_id() -> str:
    return JOB_ID_PREFIX + _base36(secrets.token_bytes(17), 26)


def job_id_for_key(project_id: str, idempotency_key: str) -> str:
    """Derive the job id of (project, idempotency key); the NUL separator keeps the pair unambiguous."""
    digest = hashlib.sha256(f"{project_id}\0{idempotency_key}".encode()).digest()
    return JOB_ID_PREFIX + _base36(digest, 26)


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID_RE.match(value))


BATCH_ID_PREFIX = "bat_"
_BATCH_ID_RE = re.compile(r"^bat_[0-9a-z]{26}$")


def batch_id_for_key(project_id: str, idempotency_key: str) -> str:
    """Derive the batch id of (project, idempotency key), as ``job_id_for_key`` does for jobs."""
    digest = hashlib.sha256(f"batch\0{project_id}\0{idempotency_key}".encode()).digest()
    return BATCH_ID_PREFIX + _base36(digest, 26)


def batch_item_job_id(batch_id: str, index: int) -> str:
    """The job id of a batch's ``index``-th item: a retried batch request starts the very same jobs."""
    digest = hashlib.sha256(f"{batch_id}\0{index}".encode()).digest()
    return JOB_ID_PREFIX + _base36(digest, 26)


def is_batch_id(value: str) -> bool:
    return bool(_BATCH_ID_RE.match(value))
