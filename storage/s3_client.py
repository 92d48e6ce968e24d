"""The one boto3 S3 client, built from settings, and the translation of boto errors into ours.

boto3 clients are thread-safe (sessions are not), so the storage builds one client on its own session at
start-up and shares it among its upload and read threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from core.settings import Settings
from storage.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_RETRYABLE_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"})
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_PERMANENT_BOTOCORE_ERRORS = (NoCredentialsError, PartialCredentialsError, ParamValidationError)


def build_s3_client(settings: Settings, *, endpoint_url: str | None, max_pool_connections: int) -> S3Client:
    """A client for ``endpoint_url`` (None: AWS). Without explicit keys boto3's default chain applies."""
    access_key = settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
    secret_key = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    if (access_key is None) != (secret_key is None):
        raise StorageError("set both INFRAI_S3_ACCESS_KEY_ID and INFRAI_S3_SECRET_ACCESS_KEY, or neither")
    config = Config(
        region_name=settings.s3_region,
        # SigV4 everywhere: some regions and MinIO setups refuse SigV2 presigned URLs.
        signature_version="s3v4",
        max_pool_connections=max_pool_connections,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
        # MinIO and other S3 endpoints are addressed by host (e.g. "minio:9000"), which has no
        # per-bucket DNS names: path-style requests work everywhere such an endpoint is used.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    session = boto3.session.Session()
    client: S3Client = session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )
    return client


def is_not_found(exc: ClientError) -> bool:
    error: dict[str, Any] = dict(exc.response.get("Error", {}))
    return str(error.get("Code", "")) in _NOT_FOUND_CODES or _status_of(exc) == 404


@contextmanager
def translated_s3_errors(action: str) -> Iterator[None]:
    """Turn boto's exceptions raised inside the block into ``StorageError`` (with ``retryable``)."""
    try:
        yield
    except ClientError as exc:
        error: dict[str, Any] = dict(exc.response.get("Error", {}))
        code = str(error.get("Code", ""))
        status = _status_of(exc)
        retryable = status >= 500 or status == 429 or code in _RETRYABLE_CODES
        raise StorageError(
            f"{action}: S3 {code or status}: {error.get('Message', exc)}", retryable=retryable
        ) from exc
    except _PERMANENT_BOTOCORE_ERRORS as exc:
        raise StorageError(f"{action}: {exc}", retryable=False) from exc
    except BotoCoreError as exc:  # connection refused/reset, timeouts: worth another attempt
        raise StorageError(f"{action}: {exc}", retryable=True) from exc


def _status_of(exc: ClientError) -> int:
    metadata: dict[str, Any] = dict(exc.response.get("ResponseMetadata", {}))
    return int(metadata.get("HTTPStatusCode", 0))
