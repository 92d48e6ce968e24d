"""The FastAPI application: long-lived clients built once in the lifespan and handed to routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from accounts.store import AccountStore
from api.hold_reconciler import HoldReconciler
from api.jobs import JobService
from api.middleware import BodySizeLimit, RequestId
from api.problems import install_problem_handlers
from api.routes import accounts as accounts_routes
from api.routes import media as media_routes
from api.routes import models as models_routes
from api.routes import video as video_routes
from core.settings import Settings, get_settings
from storage import build_storage
from vendors.catalog import load_catalog
from vendors.registry import configured_vendors
from workflows.connection import connect

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings, lazy=True)
        storage = build_storage(settings)
        accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
        if settings.dev_api_key is not None:
            await accounts.ensure_dev_project(
                settings.dev_api_key.get_secret_value(), settings.dev_credits_usd
            )
        app.state.settings = settings
        app.state.storage = storage
        app.state.accounts = accounts
        app.state.catalog = load_catalog()
        app.state.configured = configured_vendors(settings)
        app.state.jobs = jobs = JobService(
            client,
            settings.temporal_task_queue,
            query_timeout=timedelta(seconds=settings.status_query_timeout_seconds),
            rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds),
        )
        reconciling: asyncio.Task[None] | None = None
        if settings.hold_reconcile_interval_seconds > 0:
            reconciler = HoldReconciler(
                accounts,
                jobs,
                after=timedelta(seconds=settings.hold_reconcile_after_seconds),
                interval=settings.hold_reconcile_interval_seconds,
            )
            reconciling = asyncio.create_task(reconciler.run_forever(), name="hold-reconciler")
        try:
            yield
        finally:
            if reconciling is not None:
                reconciling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciling
            await accounts.aclose()
            await storage.aclose()

    app = FastAPI(
        title="Infrai Video API",
        version="0.1.0",
        summary="Text (and image) to video through the best vendor, on durable Temporal workflows.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    accounts_routes.install_account_error_handlers(app)
    app.include_router(video_routes.router)
    app.include_router(models_routes.router)
    app.include_router(accounts_routes.router)
    app.include_router(media_routes.router)

    @app.get("/healthz", tags=["ops"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestId)
    return app
