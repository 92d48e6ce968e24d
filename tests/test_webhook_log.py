"""The delivery log read by message, on SQLite and PostgreSQL: a message is delivered once any attempt was,
failed while none was; messages are listed newest first by their first attempt, a page at a time, and only
the asking project's."""

from __future__ import annotations

from accounts.store import AccountStore
from accounts.webhook_log import MessageOutcome
from core.models import WebhookAttempt


async def _project(store: AccountStore, name: str) -> str:
    return (await store.activate_anonymous(f"webhook-log-{name}")).project_id


async def _attempt(
    store: AccountStore, project_id: str, job: str, attempt: int, outcome: str, status: int | None = None
) -> None:
    await store.record_webhook_attempt(
        WebhookAttempt(
            job_id=job,
            project_id=project_id,
            message_id=f"msg_{job}_succeeded",
            event="succeeded",
            attempt=attempt,
            outcome=outcome,
            status_code=status,
            error=None if status else "ConnectError: refused",
        )
    )


async def test_messages_are_grouped_by_outcome_newest_first(account_store: AccountStore) -> None:
    project_id = await _project(account_store, "grouped")
    await _attempt(account_store, project_id, "vid_old", 1, "failed", 500)
    await _attempt(account_store, project_id, "vid_new", 1, "failed")
    await _attempt(account_store, project_id, "vid_old", 2, "delivered", 200)  # a later attempt of the first
    await _attempt(account_store, project_id, "vid_new", 2, "gone", 410)
    log = account_store.webhook_log()

    everything = await log.messages(project_id, outcome=None, before=None, limit=10)
    assert [(m.job_id, m.outcome, m.attempts) for m in everything.messages] == [
        ("vid_new", MessageOutcome.FAILED, 2),
        ("vid_old", MessageOutcome.DELIVERED, 2),
    ]
    failed = (await log.messages(project_id, outcome=MessageOutcome.FAILED, before=None, limit=10)).messages
    assert [(m.job_id, m.last_outcome, m.last_status_code) for m in failed] == [("vid_new", "gone", 410)]
    assert failed[0].first_attempt_at <= failed[0].last_attempt_at
    delivered = await log.messages(project_id, outcome=MessageOutcome.DELIVERED, before=None, limit=10)
    assert [(m.job_id, m.last_status_code, m.last_error) for m in delivered.messages] == [
        ("vid_old", 200, None)
    ]
    assert await log.attempts_of_message(project_id, "vid_old", "msg_vid_old_succeeded") == 2
    assert await log.attempts_of_message(project_id, "vid_none", "msg_vid_none_succeeded") == 0


async def test_pages_continue_before_the_last_position_and_stay_in_the_project(
    account_store: AccountStore,
) -> None:
    project_id, other = await _project(account_store, "paged"), await _project(account_store, "other")
    for job in ("vid_1", "vid_2", "vid_3"):
        await _attempt(account_store, project_id, job, 1, "failed")
        await _attempt(account_store, other, job, 1, "failed")
    log = account_store.webhook_log()
    first = await log.messages(project_id, outcome=MessageOutcome.FAILED, before=None, limit=2)
    assert [m.job_id for m in first.messages] == ["vid_3", "vid_2"] and first.has_more
    rest = await log.messages(
        project_id, outcome=MessageOutcome.FAILED, before=first.messages[-1].position, limit=2
    )
    assert [m.job_id for m in rest.messages] == ["vid_1"] and not rest.has_more
    theirs = await log.messages(other, outcome=None, before=None, limit=10)
    assert {m.job_id for m in theirs.messages} == {"vid_1", "vid_2", "vid_3"}
    assert not {m.position for m in theirs.messages} & {m.position for m in first.messages + rest.messages}
