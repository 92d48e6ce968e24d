"""``python -m localvendor``: serve the local vendor on INFRAI_LOCAL_VENDOR_HOST:INFRAI_LOCAL_VENDOR_PORT."""

from __future__ import annotations

import uvicorn

from core.settings import get_settings
from localvendor.server import create_app
from observability.logs import logging_config


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.local_vendor_host,
        port=settings.local_vendor_port,
        log_config=logging_config(settings, "localvendor"),
        # Render requests are tiny; a short keep-alive is enough and lets shutdown finish promptly.
        timeout_graceful_shutdown=10,
    )


# The guard matters: render processes are spawned, and spawn re-imports this module as __mp_main__.
if __name__ == "__main__":
    main()
