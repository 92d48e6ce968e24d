"""``python -m api``: serve the API with uvicorn (the embedded stack and the production image)."""

from __future__ import annotations

import uvicorn

from core.settings import get_settings
from observability.logs import exit_without_teardown, logging_config


def main(app_factory: str = "api.app:create_app") -> None:
    """Serve the app ``app_factory`` makes (``module:function``; the benchmarks serve a variant)."""
    settings = get_settings()
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_config=logging_config(settings, "api"),  # applied in each worker process too
        access_log=False,
        proxy_headers=True,
        # Event streams (GET /v1/video/jobs/{id}/events) stay open until their job ends; on shutdown they
        # get this long, then close, and clients resume on another process with Last-Event-ID.
        timeout_graceful_shutdown=5,
    )
    exit_without_teardown()  # uvicorn has stopped and the lifespan flushed the spans


if __name__ == "__main__":
    main()
