"""The FastAPI application: long-lived clients built once in the lifespan and handed to routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from api.app_services import close_services, open_services
from api.codec_server import build_codec_app
from api.domain_problems import install_domain_error_handlers
from api.middleware import BodySizeLimit, RequestId
from api.problems import install_problem_handlers, install_problem_schema
from api.rate_limits import RateLimitHeaders, install_rate_limit_docs
from api.routes import accounts as accounts_routes
from api.routes import batches as batch_routes
from api.routes import budgets as budget_routes
from api.routes import job_events as job_events_routes
from api.routes import job_list as job_list_routes
from api.routes import media as media_routes
from api.routes import models as models_routes
from api.routes import openai_videos as openai_routes
from api.routes import ops as ops_routes
from api.routes import playground as playground_routes
from api.routes import usage as usage_routes
from api.routes import video as video_routes
from api.routes import webhooks as webhook_routes
from core.settings import Settings, get_settings
from observability.http import ApiMetrics, HttpObservability
from observability.tracing import configure_tracing
from workflows.encryption import payload_codec

logger = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _mount_codec_endpoint(app: FastAPI, settings: Settings) -> None:
    codec = payload_codec(settings)
    if codec is None or settings.codec_operator_token is None:
        return  # nothing to decode, or nobody allowed to: no endpoint at all
    token = settings.codec_operator_token.get_secret_value()
    app.mount("/codec", build_codec_app(codec, token, settings.resolved_codec_cors_origins))


def _lifespan(
    settings: Settings, metrics: ApiMetrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Here, not at import: with several uvicorn workers each process needs its own exporter thread.
        tracer_provider = configure_tracing(settings, "infrai-api")
        services = await open_services(settings, metrics)
        app.state.services = services
        try:
            yield
        finally:
            await close_services(app.state.services)
            if tracer_provider is not None:
                tracer_provider.shutdown()  # flushes the spans still batched

    return lifespan


def _install_error_handlers(app: FastAPI) -> None:
    install_problem_handlers(app)
    install_problem_schema(app)
    install_rate_limit_docs(app)
    install_domain_error_handlers(app)


def _include_routes(app: FastAPI) -> None:
    for routes in (
        video_routes,
        batch_routes,
        job_list_routes,
        job_events_routes,
        webhook_routes,
        openai_routes,
        models_routes,
        accounts_routes,
        budget_routes,
        usage_routes,
        media_routes,
        ops_routes,
        playground_routes,
    ):
        app.include_router(routes.router)
    app.mount(playground_routes.ASSETS_PATH, playground_routes.playground_assets(), name="playground")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = ApiMetrics()
    app = FastAPI(
        title="Infrai Video API",
        version="0.1.0",
        summary="Text (and image) to video through the best vendor, on durable Temporal workflows.",
        lifespan=_lifespan(settings, metrics),
    )
    _install_error_handlers(app)
    _mount_codec_endpoint(app, settings)
    _include_routes(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(HttpObservability, metrics=metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestId)
    return app
