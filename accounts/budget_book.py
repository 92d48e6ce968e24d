"""``BudgetBook``: read and set a project's budgets, and read its usage report (``store.budget_book()``).

The caps themselves are enforced by ``ledger.place_hold`` (``accounts.budgets.check_caps``); this is the
account API's side of them. Each method is one transaction.
"""

from __future__ import annotations

from datetime import datetime

from accounts import budget_views, budgets
from accounts.budgets import Caps
from accounts.database import Database
from accounts.tables import utc_now
from accounts.usage import GroupBy, UsageRow, usage_report
from accounts.views import BudgetView


class BudgetBook:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def all(self, project_id: str) -> list[BudgetView]:
        """The project's budget, then each active key's, with today's and this month's spend."""
        async with self._db.read() as conn:
            return await budget_views.budget_views(conn, project_id, utc_now())

    async def get(self, project_id: str, key_id: str | None) -> BudgetView:
        """The project's budget (``key_id`` None) or one of its keys'. Raises ``KeyNotFound``."""
        async with self._db.read() as conn:
            return await budget_views.budget_view(conn, project_id, key_id, utc_now())

    async def set(self, project_id: str, key_id: str | None, caps: Caps) -> BudgetView:
        """Replace the project's caps (``key_id`` None) or one key's. Raises ``KeyNotFound``."""
        async with self._db.write() as conn:
            await budgets.set_caps(conn, project_id, key_id, caps)
            return await budget_views.budget_view(conn, project_id, key_id, utc_now())

    async def usage(
        self, project_id: str, start: datetime, end: datetime, group_by: GroupBy
    ) -> list[UsageRow]:
        """The project's charges written in ``[start, end)``, grouped (``accounts.usage``)."""
        async with self._db.read() as conn:
            return await usage_report(conn, project_id, start, end, group_by)
