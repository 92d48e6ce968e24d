"""Choosing and building the storage backend from settings, once, at process start-up."""

from __future__ import annotations

from core.settings import Settings
from storage.base import MediaStorage
from storage.local import LocalMediaStorage
from storage.signing import load_or_create_signing_key


def installation_secret(settings: Settings) -> bytes:
    """The installation's signing secret: ``INFRAI_MEDIA_SIGNING_SECRET``, else a key in the data folder.

    Stable across restarts and shared by the API and worker of one installation (same data dir); several
    API replicas on different machines must set the variable so they all sign alike.
    """
    if settings.media_signing_secret is not None:
        return settings.media_signing_secret.get_secret_value().encode()
    return load_or_create_signing_key(settings.data_dir)


def build_storage(settings: Settings) -> MediaStorage:
    """The configured backend (``INFRAI_STORAGE_BACKEND``). Creates no bucket: see ``ensure_bucket``."""
    if settings.storage_backend == "s3":
        from storage.s3 import S3MediaStorage  # boto3 only in processes that use it

        return S3MediaStorage.from_settings(settings)
    return LocalMediaStorage(
        settings.resolved_storage_dir,
        public_base_url=settings.public_base_url,
        signing_secret=installation_secret(settings),
    )
