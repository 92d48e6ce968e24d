"""``python -m bench.static_key_api``: the API with accounts out of the request path, for a baseline.

The same application (``api.app.create_app``), except that the calling project comes from comparing the
bearer token with ``INFRAI_DEV_API_KEY`` (constant time, no lookup) and generate places no credit hold.
Everything else is untouched, so ``generate`` against it against the real API is what the accounts and
the ledger cost. Never for serving anyone: it gives away credits.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from fastapi import FastAPI

from accounts.ledger import UNATTRIBUTED, Attribution
from accounts.store import AccountStore
from api.__main__ import main as serve
from api.app import create_app as create_real_app
from core.models import ProjectIdentity
from core.settings import get_settings


class StaticKeyNoLedger(AccountStore):
    """One static key for the development project; holds that hold nothing."""

    identity: ProjectIdentity | None = None
    static_key = ""

    async def authenticate(self, api_key: str) -> ProjectIdentity | None:
        if self.identity is not None and hmac.compare_digest(api_key.encode(), self.static_key.encode()):
            return self.identity
        return None

    async def hold(
        self,
        project_id: str,
        job_id: str,
        amount: Decimal,
        *,
        request: str | None = None,
        attribution: Attribution = UNATTRIBUTED,
        unless_deleted: bool = False,
    ) -> Decimal:
        return amount


def create_app() -> FastAPI:
    settings = get_settings()
    if settings.dev_api_key is None:
        raise SystemExit("set INFRAI_DEV_API_KEY: it is the one key this variant accepts")
    key = settings.dev_api_key.get_secret_value()
    app = create_real_app(settings)
    real_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        async with real_lifespan(started):
            accounts = await StaticKeyNoLedger.open(settings.resolved_database_url, settings=settings)
            accounts.static_key = key
            accounts.identity = await accounts.ensure_dev_project(key, settings.dev_credits_usd)
            real = started.state.services
            started.state.services = dataclasses.replace(real, accounts=accounts)
            try:
                yield
            finally:
                started.state.services = real  # the real lifespan closes its own store
                await accounts.aclose()

    app.router.lifespan_context = lifespan
    return app


if __name__ == "__main__":
    serve("bench.static_key_api:create_app")
