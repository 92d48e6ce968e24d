"""``python -m storage.ensure_bucket``: create the configured S3 bucket if it does not exist.

The compose stack runs it once against MinIO before the API and workers start. In production the bucket
is usually made by your infrastructure code; running this there is harmless (it never changes an existing
bucket) as long as the credentials may create buckets.
"""

from __future__ import annotations

import logging

from core.settings import Settings
from observability.logs import run_process
from storage.s3 import S3MediaStorage

logger = logging.getLogger(__name__)


async def ensure_bucket(settings: Settings) -> None:
    if settings.storage_backend != "s3":
        raise SystemExit("INFRAI_STORAGE_BACKEND is not s3: there is no bucket to make")
    storage = S3MediaStorage.from_settings(settings, threads=1)
    try:
        await storage.ensure_bucket()
        await storage.ping()
    finally:
        await storage.aclose()
    logger.info("bucket %s is ready at %s", settings.s3_bucket, settings.s3_endpoint_url or "AWS")


def main() -> None:
    run_process("setup", ensure_bucket)


if __name__ == "__main__":
    main()
