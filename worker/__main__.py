"""``python -m worker``: the worker process of the embedded stack and of the production image."""

from __future__ import annotations

import asyncio
import logging

from core.settings import get_settings
from worker.runner import run_worker


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(get_settings()))


if __name__ == "__main__":
    main()
