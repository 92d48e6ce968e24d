"""Process logging: one JSON object per line in production, readable text in the embedded stack.

Every line written while a job is being worked on carries its job id and vendor: the worker's activity
interceptor and the API's job service bind them to context variables for the duration of the work, and
a filter copies them (and the request id) onto each record. Workflow code logs through
``workflow.logger``, whose records carry the workflow id, which is the job id.

Prompts are never logged in the first place; as a last line of defence the formatters mask anything
shaped like one of our API keys, a bearer token or a signed URL's secret parameters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import os
import re
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NoReturn

from core.settings import Settings, get_settings

_job_id: ContextVar[str | None] = ContextVar("infrai_job_id", default=None)
_vendor: ContextVar[str | None] = ContextVar("infrai_vendor", default=None)
_request_id: ContextVar[str | None] = ContextVar("infrai_request_id", default=None)

CONTEXT_FIELDS = ("job_id", "vendor", "request_id", "activity")

# Group 1 is a prefix to keep ("Bearer ", "?sig="); what follows it, or the whole match, is the secret.
_SECRET = re.compile(
    r"ifr_pk_[A-Za-z0-9_\-]+"  # our API keys
    r"|(Bearer\s+)[^\s\"',]+"  # any bearer token
    r"|([?&](?:key|api_key|token|sig|X-Amz-Signature|X-Amz-Credential)=)[^&\s\"']+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"

# Libraries that log one line per HTTP call: thousands a minute from a busy poll worker.
_CHATTY = ("httpx", "httpcore", "botocore", "urllib3", "alembic.runtime.plugins")


def redact(text: str) -> str:
    return _SECRET.sub(lambda match: (match.group(1) or match.group(2) or "") + REDACTED, text)


@contextmanager
def job_context(job_id: str | None, vendor: str | None = None) -> Iterator[None]:
    """Lines logged inside the block (in this task) carry ``job_id`` and ``vendor``."""
    job_token, vendor_token = _job_id.set(job_id), _vendor.set(vendor)
    try:
        yield
    finally:
        _job_id.reset(job_token)
        _vendor.reset(vendor_token)


def bind_job(job_id: str, vendor: str | None = None) -> None:
    """Tag the rest of the current task's lines (an API request is one task) with the job."""
    _job_id.set(job_id)
    if vendor is not None:
        _vendor.set(vendor)


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class ContextFields(logging.Filter):
    """Copy the bound job id, vendor and request id onto each record; read the job id and activity from
    the ``extra`` the Temporal SDK puts on ``workflow.logger`` and ``activity.logger`` records."""

    def filter(self, record: logging.LogRecord) -> bool:
        temporal: dict[str, Any] = getattr(record, "temporal_activity", None) or getattr(
            record, "temporal_workflow", None
        ) or {}  # fmt: skip
        values = {
            "job_id": _job_id.get() or temporal.get("workflow_id"),
            "vendor": _vendor.get(),
            "request_id": _request_id.get(),
            "activity": temporal.get("activity_type"),
        }
        for name, value in values.items():
            if value and not getattr(record, name, None):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``process``, ``logger``, ``msg``, the context fields
    that are set, and ``exc`` (the traceback as one string) when there is one."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                line[name] = str(value)
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time process LEVEL logger: message [job=… vendor=…]`` for people reading a terminal."""

    def __init__(self, process: str) -> None:
        super().__init__(f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        tags = [f"{name.removesuffix('_id')}={getattr(record, name)}" for name in ("job_id", "vendor")
                if getattr(record, name, None)]  # fmt: skip
        return redact(f"{text} [{' '.join(tags)}]" if tags else text)


def make_formatter(log_format: str, process: str) -> logging.Formatter:
    return JsonFormatter(process) if log_format == "json" else TextFormatter(process)


def logging_config(settings: Settings, process: str) -> dict[str, Any]:
    """A ``dictConfig`` for this process; uvicorn takes it as ``log_config`` and applies it in each of
    its worker processes, so the API's lines look like everyone else's."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFields}},
        "formatters": {
            "infrai": {"()": make_formatter, "log_format": settings.log_format, "process": process}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "infrai",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's loggers propagate to ours instead of printing in their own format.
            **{
                name: {"handlers": [], "propagate": True, "level": level}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **{name: {"level": "WARNING"} for name in _CHATTY},
        },
    }


def configure_logging(settings: Settings, process: str) -> None:
    logging.config.dictConfig(logging_config(settings, process))


def exit_without_teardown() -> NoReturn:
    """Leave a process whose work is done and flushed with exit code 0, skipping the interpreter's teardown.

    Temporal's Rust runtime keeps threads of its own; one that touches the GIL while CPython finalises
    aborts the process ("PyGILState_Release: thread state ... must be current", temporalio/sdk-python#300),
    so a clean graceful stop showed as SIGABRT now and then. Call it only after everything that must be
    written was (spans flushed at shutdown, logs here)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_process(process: str, main: Callable[[Settings], Coroutine[Any, Any, None]]) -> None:
    """A ``python -m`` entry point: read the settings once, log as ``process``, run ``main`` to its end."""
    settings = get_settings()
    configure_logging(settings, process)
    asyncio.run(main(settings))
