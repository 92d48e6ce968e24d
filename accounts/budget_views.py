"""A budget as the account API shows it: a project's or a key's caps and what counts against them now
(``BudgetBook``; the caps are enforced by ``accounts.budgets.check_caps``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.budgets import Caps, Periods, active_key_caps, read_caps, scope_spend
from accounts.errors import KeyNotFound
from accounts.money import from_micros
from accounts.tables import api_keys
from accounts.views import BudgetView


async def budget_views(conn: AsyncConnection, project_id: str, now: datetime) -> list[BudgetView]:
    """The project's budget, then each of its active keys', with what counts against them now."""
    project_caps, _ = await read_caps(conn, project_id, None)
    periods = Periods.of(now)
    views = [await _view(conn, project_id, None, project_caps, periods)]
    for key_id, caps in await active_key_caps(conn, project_id):
        views.append(await _view(conn, project_id, key_id, caps, periods))
    return views


async def budget_view(
    conn: AsyncConnection, project_id: str, key_id: str | None, now: datetime
) -> BudgetView:
    """One budget: the project's (``key_id`` None) or one of its keys' (``KeyNotFound`` otherwise)."""
    if key_id is not None and not await _has_key(conn, project_id, key_id):
        raise KeyNotFound(key_id)
    project_caps, key_caps = await read_caps(conn, project_id, key_id)
    caps = project_caps if key_id is None else key_caps
    return await _view(conn, project_id, key_id, caps, Periods.of(now))


async def _has_key(conn: AsyncConnection, project_id: str, key_id: str) -> bool:
    found = await conn.scalar(
        select(api_keys.c.key_id).where(api_keys.c.key_id == key_id, api_keys.c.project_id == project_id)
    )
    return found is not None


async def _view(
    conn: AsyncConnection, project_id: str, key_id: str | None, caps: Caps, periods: Periods
) -> BudgetView:
    spend = await scope_spend(conn, project_id, key_id, periods)
    return BudgetView(
        scope="project" if key_id is None else "key",
        key_id=key_id,
        daily_usd=None if caps.daily_micros is None else from_micros(caps.daily_micros),
        monthly_usd=None if caps.monthly_micros is None else from_micros(caps.monthly_micros),
        max_concurrent_jobs=caps.max_concurrent_jobs,
        spent_today_usd=from_micros(spend.day_micros),
        spent_this_month_usd=from_micros(spend.month_micros),
        running_jobs=spend.running_jobs,
        day_resets_at=periods.next_day,
        month_resets_at=periods.next_month,
    )
