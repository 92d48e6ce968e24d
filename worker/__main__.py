"""``python -m worker``: the worker process of the embedded stack and of the production image."""

from __future__ import annotations

import asyncio

from core.settings import get_settings
from observability.logs import configure_logging
from worker.runner import run_worker


def main() -> None:
    settings = get_settings()
    configure_logging(settings, "worker")
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
