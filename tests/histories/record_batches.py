"""The batch paths of a release's recording (``python -m tests.histories.record``, which calls this).

Each ``batch_*`` path is one real two-item batch (one-second local-vendor videos, so its files stay small)
with a ``batch.completed`` webhook; ``batch_<path>.json`` is its ``VideoBatch`` history. A redelivery of a
batch's message (``POST .../webhook-deliveries/{message_id}/redeliver``) is saved as
``<path>.redelivery.json``, its ``BatchWebhookDelivery`` history. The items are ordinary jobs, whose paths
the job recordings cover, so their histories are not saved again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.batches import batch_webhook_message_id
from jobs.webhook_originals import batch_redelivery_id
from tests.histories.recorder import Recorder

ITEMS = 2


def record_batches(r: Recorder) -> None:
    """A batch whose items all succeed, one cancelled while its items run, one whose webhook receiver
    answers 500 twice before 200, and the redeliveries of a batch's message: one the receiver refuses,
    one it takes."""
    if r.wanted("batch_succeeded"):
        batch_id = _create(r, "batch_succeeded")
        _finish(r, "batch_succeeded", batch_id, succeeded=ITEMS, hooks=1)
    if r.wanted("batch_cancelled"):
        batch_id = _create(r, "batch_cancelled")
        with r.stack.client() as client:  # the items take seconds to render: they are still running
            client.post(f"/v1/video/batches/{batch_id}/cancel").raise_for_status()
        _finish(r, "batch_cancelled", batch_id, cancelled=ITEMS, hooks=1)
    if r.wanted("batch_webhook_after_retries"):
        hook = _hook("batch_webhook_after_retries")
        r.receiver.answer(hook, 500)
        batch_id = _create(r, "batch_webhook_after_retries")
        r.receiver.wait_for(hook, lambda hooks: len(hooks) >= 2)
        r.receiver.answer(hook, 200)
        _finish(r, "batch_webhook_after_retries", batch_id, succeeded=ITEMS, hooks=3)
    record_redeliveries(r)


def record_redeliveries(r: Recorder) -> None:
    """One delivered batch's message sent again twice: while its receiver answers 500 (the one attempt
    fails, and so does the workflow), then once it is back (delivered)."""
    wanted = [path for path in ("batch_redelivery_failed", "batch_redelivered") if r.wanted(path)]
    if not wanted:
        return
    hook = _hook("batch_redelivered")
    batch_id = _create(r, "batch_redelivered")
    _wait_closed(r, batch_id)
    for path in wanted:
        status, outcome = (500, "failed") if path == "batch_redelivery_failed" else (200, "delivered")
        r.receiver.answer(hook, status)
        message_id = batch_webhook_message_id(batch_id)
        with r.stack.client() as client:
            response = client.post(f"/v1/video/jobs/{batch_id}/webhook-deliveries/{message_id}/redeliver")
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == outcome, f"{path}: {response.json()}"
        r.save(f"{path}.redelivery", batch_redelivery_id(batch_id), f", {outcome}")
    r.receiver.answer(hook, 200)


def _hook(path: str) -> str:
    return f"/recorded-{path}"


def _create(r: Recorder, path: str) -> str:
    items = [
        {"prompt": f"recorded {path} {n}", "duration_seconds": 1, "vendor": "local"} for n in range(ITEMS)
    ]
    body = {"items": items, "webhook_url": r.receiver.url(_hook(path))}
    with r.stack.client() as client:
        response = client.post("/v1/video/batches", json=body)
    assert response.status_code == 202, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


def _finish(r: Recorder, path: str, batch_id: str, hooks: int, **counts: int) -> None:
    """Save the batch's history once it ended: its items ``counts`` by state and the receiver's ``hooks``
    requests (the last one answered 200) show the path was really taken."""
    _wait_closed(r, batch_id)
    with r.stack.client() as client:
        batch: dict[str, Any] = client.get(f"/v1/video/batches/{batch_id}").json()
    got = {state: n for state, n in batch["counts"].items() if n}
    assert got == counts, f"{path}: items ended {got}, wanted {counts}"
    received = r.receiver.received(_hook(path))
    assert len(received) == hooks and received[-1].answered == 200, f"{path}: webhook {received}"
    r.save(path, batch_id, f", items {got}, webhook delivered at attempt {hooks}")


def _wait_closed(r: Recorder, workflow_id: str) -> None:
    async def closed() -> None:
        await r.client.get_workflow_handle(workflow_id).result()

    asyncio.run(closed())
