"""Projects, their keys and anonymous activation: the statements, run inside the store's transactions."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.database import Database
from accounts.errors import ActivationRateLimited, LastActiveKey, ProjectNotFound
from accounts.keys import PresentedKey, new_project_id
from accounts.ledger import record_entry
from accounts.money import from_micros
from accounts.tables import activations, api_keys, as_utc, projects
from accounts.usage import usage_totals
from accounts.views import AccountView, KeyView, NewKey

ACTIVATION_WINDOW = timedelta(hours=1)


async def create_project(
    db: Database, conn: AsyncConnection, *, kind: str, credits_micros: int, now: datetime
) -> str:
    """A new project whose starting credits are a ledger grant, so the ledger always explains the balance."""
    project_id = new_project_id()
    await conn.execute(
        insert(projects).values(
            project_id=project_id, kind=kind, balance_micros=credits_micros, held_micros=0, created_at=now
        )
    )
    await record_entry(
        db, conn, project_id=project_id, job_id=None, kind="grant", amount_micros=credits_micros,
        reason=f"{kind} credits", now=now,
    )  # fmt: skip
    return project_id


async def add_key(
    conn: AsyncConnection, project_id: str, api_key: str, key: PresentedKey, now: datetime
) -> NewKey:
    await conn.execute(
        insert(api_keys).values(
            key_id=key.key_id, project_id=project_id, key_hash=key.key_hash, created_at=now
        )
    )
    return NewKey(key_id=key.key_id, api_key=SecretStr(api_key), created_at=now)


async def find_key(conn: AsyncConnection, key_id: str) -> Row[Any, Any, Any] | None:
    """The one indexed lookup behind every authenticated request (key_id is the primary key)."""
    result = await conn.execute(
        select(api_keys.c.project_id, api_keys.c.key_hash, api_keys.c.revoked_at).where(
            api_keys.c.key_id == key_id
        )
    )
    return result.first()


async def revoke_key(conn: AsyncConnection, project_id: str, key_id: str, now: datetime) -> bool:
    """Revoke one of the project's keys; False when it has no such key. Revoking twice is fine."""
    # Lock the project row first, so two concurrent revocations cannot each leave the other's key last.
    locked = await conn.execute(
        select(projects.c.project_id).where(projects.c.project_id == project_id).with_for_update()
    )
    if locked.first() is None:
        return False
    key = (
        await conn.execute(
            select(api_keys.c.revoked_at).where(
                api_keys.c.key_id == key_id, api_keys.c.project_id == project_id
            )
        )
    ).first()
    if key is None:
        return False
    if key.revoked_at is not None:
        return True
    active = await conn.scalar(
        select(func.count()).where(api_keys.c.project_id == project_id, api_keys.c.revoked_at.is_(None))
    )
    if int(active or 0) <= 1:
        raise LastActiveKey(f"{key_id} is the project's last active key; create another one first")
    await conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now))
    return True


async def account_view(conn: AsyncConnection, project_id: str) -> AccountView:
    project = (
        await conn.execute(
            select(projects.c.balance_micros, projects.c.held_micros).where(
                projects.c.project_id == project_id
            )
        )
    ).first()
    if project is None:
        raise ProjectNotFound(project_id)
    keys = await conn.execute(
        select(api_keys.c.key_id, api_keys.c.created_at, api_keys.c.revoked_at)
        .where(api_keys.c.project_id == project_id)
        .order_by(api_keys.c.created_at, api_keys.c.key_id)
    )
    balance, held = int(project.balance_micros), int(project.held_micros)
    return AccountView(
        project_id=project_id,
        balance_usd=from_micros(balance),
        held_usd=from_micros(held),
        available_usd=from_micros(balance - held),
        usage=await usage_totals(conn, project_id),
        keys=[
            KeyView(
                key_id=row.key_id,
                created_at=as_utc(row.created_at),
                revoked_at=as_utc(row.revoked_at) if row.revoked_at is not None else None,
            )
            for row in keys
        ],
    )


async def check_global_activation_allowance(
    db: Database, conn: AsyncConnection, limit: int, now: datetime
) -> None:
    """Raise ``ActivationRateLimited(scope="global")`` when ``limit`` projects were activated anonymously
    in the last hour, from anywhere: a bound on trial credits given away however many addresses ask."""
    if limit <= 0:
        return
    # Taken before any address lock (same order everywhere: no deadlock); it serialises activations,
    # which are rare. The ids grow with time under this lock, so the limit-th newest row is found through
    # the primary key: at most ``limit`` rows read, no index on created_at needed.
    await db.lock_name(conn, "activation:global")
    limit_th_newest = await conn.scalar(
        select(activations.c.created_at)
        .order_by(activations.c.activation_id.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if limit_th_newest is not None and as_utc(limit_th_newest) > now - ACTIVATION_WINDOW:
        frees_at = as_utc(limit_th_newest) + ACTIVATION_WINDOW
        raise ActivationRateLimited(max(1, math.ceil((frees_at - now).total_seconds())), scope="global")


async def check_activation_allowance(
    db: Database, conn: AsyncConnection, client_hash: str, limit: int, now: datetime
) -> None:
    """Raise ``ActivationRateLimited`` when this address (its bucket: ``keys.activation_bucket``)
    activated ``limit`` projects in the last hour."""
    if limit <= 0:
        return
    # Without this lock two simultaneous activations from one address on PostgreSQL could both count
    # limit - 1 and both pass.
    await db.lock_name(conn, f"activation:{client_hash}")
    count, oldest = (
        await conn.execute(
            select(func.count(), func.min(activations.c.created_at)).where(
                activations.c.client_hash == client_hash, activations.c.created_at > now - ACTIVATION_WINDOW
            )
        )
    ).one()
    if int(count) >= limit:
        frees_at = as_utc(oldest) + ACTIVATION_WINDOW
        raise ActivationRateLimited(max(1, math.ceil((frees_at - now).total_seconds())))


async def record_activation(conn: AsyncConnection, client_hash: str, project_id: str, now: datetime) -> None:
    await conn.execute(
        insert(activations).values(client_hash=client_hash, project_id=project_id, created_at=now)
    )


async def find_project(conn: AsyncConnection, project_id: str) -> str | None:
    found = await conn.scalar(select(projects.c.project_id).where(projects.c.project_id == project_id))
    return None if found is None else str(found)
