"""The FastAPI application: long-lived clients built once in the lifespan and handed to routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from accounts.store import AccountStore
from api.codec_server import build_codec_app
from api.cursors import CursorCodec
from api.job_listing import JobLister
from api.job_watch import JobWatchHub
from api.jobs import JobService
from api.middleware import BodySizeLimit, RequestId
from api.problems import install_problem_handlers, install_problem_schema
from api.routes import accounts as accounts_routes
from api.routes import job_events as job_events_routes
from api.routes import job_list as job_list_routes
from api.routes import media as media_routes
from api.routes import models as models_routes
from api.routes import openai_videos as openai_routes
from api.routes import ops as ops_routes
from api.routes import playground as playground_routes
from api.routes import video as video_routes
from api.routes import webhooks as webhook_routes
from core.settings import Settings, get_settings
from observability.http import ApiMetrics, HttpObservability
from observability.stuck_jobs import StuckJobWatch
from observability.tracing import configure_tracing
from storage import build_storage
from storage.build import installation_secret
from vendors.catalog import load_catalog
from vendors.registry import configured_vendors
from workflows.connection import connect
from workflows.encryption import payload_codec

logger = logging.getLogger(__name__)


def _mount_codec_endpoint(app: FastAPI, settings: Settings) -> None:
    codec = payload_codec(settings)
    if codec is None or settings.codec_operator_token is None:
        return  # nothing to decode, or nobody allowed to: no endpoint at all
    token = settings.codec_operator_token.get_secret_value()
    app.mount("/codec", build_codec_app(codec, token, settings.resolved_codec_cors_origins))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Here, not at import: with several uvicorn workers each process needs its own exporter thread.
        tracer_provider = configure_tracing(settings, "infrai-api")
        client = await connect(settings, lazy=True)
        storage = build_storage(settings)
        accounts = await AccountStore.open(settings.resolved_database_url, settings=settings)
        if settings.dev_api_key is not None:
            await accounts.ensure_dev_project(
                settings.dev_api_key.get_secret_value(), settings.dev_credits_usd
            )
        app.state.settings = settings
        app.state.temporal = client
        app.state.storage = storage
        app.state.accounts = accounts
        app.state.catalog = load_catalog()
        app.state.configured = configured_vendors(settings)
        app.state.jobs = JobService(
            client,
            settings.temporal_task_queue,
            query_timeout=timedelta(seconds=settings.status_query_timeout_seconds),
            metrics=metrics,
            tombstones=accounts,
            rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds),
            cancel_wait=timedelta(seconds=settings.cancel_wait_seconds),
        )
        app.state.watches = JobWatchHub(app.state.jobs, settings.job_watch_interval_seconds)
        app.state.lister = JobLister(client, app.state.jobs)
        app.state.cursors = CursorCodec(installation_secret(settings))
        # Stranded holds are released by the Housekeeping schedule (workflows/housekeeping.py), not here.
        app.state.stuck_jobs = StuckJobWatch(client, settings.temporal_task_queue)
        try:
            yield
        finally:
            await app.state.watches.aclose()
            await accounts.aclose()
            await storage.aclose()
            if tracer_provider is not None:
                tracer_provider.shutdown()  # flushes the spans still batched

    app = FastAPI(
        title="Infrai Video API",
        version="0.1.0",
        summary="Text (and image) to video through the best vendor, on durable Temporal workflows.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    install_problem_handlers(app)
    install_problem_schema(app)
    _mount_codec_endpoint(app, settings)
    accounts_routes.install_account_error_handlers(app)
    app.include_router(video_routes.router)
    app.include_router(job_list_routes.router)
    app.include_router(job_events_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(openai_routes.router)
    app.include_router(models_routes.router)
    app.include_router(accounts_routes.router)
    app.include_router(media_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(playground_routes.router)
    app.mount(playground_routes.ASSETS_PATH, playground_routes.playground_assets(), name="playground")

    app.add_middleware(HttpObservability, metrics=metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestId)
    return app
