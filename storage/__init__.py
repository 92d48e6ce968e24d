"""Object storage for finished videos: local files (embedded default) or any S3 endpoint.

``build_storage(settings)`` at start-up; hand the result down (FastAPI ``app.state.storage``, activity
class instances) and ``await storage.aclose()`` at shutdown. ``S3MediaStorage`` (and with it boto3, ~20 MB
of a process) is imported only when something asks for it.
"""

from typing import TYPE_CHECKING, Any

from storage.base import ListedObject, MediaStorage, StoredObject
from storage.build import build_storage
from storage.errors import InvalidObjectKeyError, ObjectNotFoundError, StorageError
from storage.keys import reference_image_key, validate_key
from storage.local import LocalMediaStorage
from storage.signing import MediaSignatureStatus, sign_media_path, verify_media_signature

__all__ = [
    "InvalidObjectKeyError",
    "ListedObject",
    "LocalMediaStorage",
    "MediaSignatureStatus",
    "MediaStorage",
    "ObjectNotFoundError",
    "S3MediaStorage",
    "StorageError",
    "StoredObject",
    "build_storage",
    "reference_image_key",
    "sign_media_path",
    "validate_key",
    "verify_media_signature",
]

if TYPE_CHECKING:
    from storage.s3 import S3MediaStorage


def __getattr__(name: str) -> Any:
    if name == "S3MediaStorage":
        from storage.s3 import S3MediaStorage

        return S3MediaStorage
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
