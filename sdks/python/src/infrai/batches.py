"""``client.video.generate_batch`` and friends: many jobs under one key, one credit check, one wait.

Plans, as in ``infrai.video``: the driver (sync or async) runs them. A batch's items are ordinary jobs:
``client.video.status(item.job_id)``, ``download`` and ``cancel`` work on each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

from infrai.calls import ClientConfig, call
from infrai.effects import Plan
from infrai.errors import TimeoutError
from infrai.models import VideoBatch
from infrai.polling import poll_until_final

BATCHES_PATH = "/v1/video/batches"
BatchT = TypeVar("BatchT")


def _batch_path(batch_id: str) -> str:
    return f"{BATCHES_PATH}/{quote(batch_id, safe='')}"


def batch_body(items: Sequence[Mapping[str, Any]], webhook_url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"items": [{k: v for k, v in item.items() if v is not None} for item in items]}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url
    return body


def generate_batch_plan(config: ClientConfig, body: dict[str, Any], idempotency_key: str) -> Plan[VideoBatch]:
    # As with generate: one key, built into the request once, so every retry returns the same batch.
    request = config.request(
        "POST",
        BATCHES_PATH,
        json={**body, "idempotency_key": idempotency_key},
        headers={"Idempotency-Key": idempotency_key},
    )
    return (yield from call(config, request, VideoBatch, repeatable=True))


def batch_status_plan(config: ClientConfig, batch_id: str) -> Plan[VideoBatch]:
    request = config.request("GET", _batch_path(batch_id))
    return (yield from call(config, request, VideoBatch, repeatable=True))


def cancel_batch_plan(config: ClientConfig, batch_id: str) -> Plan[VideoBatch]:
    request = config.request("POST", _batch_path(batch_id) + "/cancel")
    return (yield from call(config, request, VideoBatch, repeatable=True))


def wait_batch_plan(config: ClientConfig, batch_id: str, timeout: float | None) -> Plan[VideoBatch]:
    return (
        yield from poll_until_final(
            config,
            lambda: batch_status_plan(config, batch_id),
            timeout,
            lambda batch: TimeoutError(f"batch {batch_id} was still running after {timeout:g}s", batch=batch),
        )
    )


class BatchMethods(Generic[BatchT]):
    """The batch half of ``client.video`` (mixed into ``VideoResource``, which sets both attributes)."""

    _config: ClientConfig
    _run: Callable[[Plan[Any]], Any]

    def generate_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
        wait: bool = False,
        wait_timeout: float | None = 600.0,
    ) -> BatchT:
        """Start up to 100 jobs at once, each ``items[i]`` a generate body (``{"prompt": ...,
        "duration_seconds": ...}``): all are checked and held first, so either all start or none (402).

        Returns the batch (dict-like; ``batch.wait()`` polls until every item ended). Without an
        ``idempotency_key`` a fresh one is made, so the SDK's own retries never start a second batch.
        With ``wait=True`` this call returns once every item ended.
        """
        key = idempotency_key or f"infrai-py-batch-{uuid.uuid4()}"
        return cast(
            BatchT,
            self._run(self._bound(self._create(batch_body(items, webhook_url), key, wait, wait_timeout))),
        )

    def batch(self, id: str) -> BatchT:
        """The batch with every item's state and the counts per state."""
        return cast(BatchT, self._run(self._bound(batch_status_plan(self._config, id))))

    def cancel_batch(self, id: str) -> BatchT:
        """Cancel every unfinished item; the batch as it is then."""
        return cast(BatchT, self._run(self._bound(cancel_batch_plan(self._config, id))))

    def wait_batch(self, id: str, *, timeout: float | None = 600.0) -> BatchT:
        """Poll until every item ended; ``infrai.TimeoutError`` (with ``.batch``) after ``timeout``."""
        return cast(BatchT, self._run(self._bound(wait_batch_plan(self._config, id, timeout))))

    def _create(
        self, body: dict[str, Any], key: str, wait: bool, wait_timeout: float | None
    ) -> Plan[VideoBatch]:
        batch = yield from generate_batch_plan(self._config, body, key)
        if wait and not batch.is_final:
            batch = yield from wait_batch_plan(self._config, batch.batch_id, wait_timeout)
        return batch

    def _bound(self, plan: Plan[VideoBatch]) -> Plan[VideoBatch]:
        """``plan``, its batch able to ``wait()`` on this client."""
        batch = yield from plan
        batch._waiter = lambda batch_id, timeout: self.wait_batch(batch_id, timeout=timeout)
        return batch
