"""Object keys: one strict shape shared by every backend, so a key can never escape the storage root.

A key is ``/``-separated components made of ``[A-Za-z0-9_.-]``. No component may be empty or start with a
dot: that rules out ``.`` and ``..``, and it keeps dot-names free for the local backend's temporary and
metadata files, which therefore can never collide with an object. Keys are URL-safe as they are, so signed
URLs embed them without escaping.
"""

from __future__ import annotations

import re

from storage.errors import InvalidObjectKeyError

MAX_KEY_LENGTH = 1024  # S3's limit, in bytes; our keys are ASCII so characters == bytes
# Leaves room under NAME_MAX (255) for the local backend's ".<name>.<random>.tmp" temp files.
MAX_COMPONENT_LENGTH = 200

_COMPONENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged when it is acceptable; raise ``InvalidObjectKeyError`` otherwise."""
    if not key:
        raise InvalidObjectKeyError("object key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidObjectKeyError(f"object key is longer than {MAX_KEY_LENGTH} characters")
    if ".." in key:
        raise InvalidObjectKeyError(f"object key {key!r} contains '..'")
    for component in key.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise InvalidObjectKeyError(
                f"object key {key!r} must be '/'-separated names of [A-Za-z0-9_.-] that do not start "
                "with '.' (no absolute paths, no empty components)"
            )
        if len(component) > MAX_COMPONENT_LENGTH:
            raise InvalidObjectKeyError(
                f"object key {key!r} has a component over {MAX_COMPONENT_LENGTH} chars"
            )
    return key


_IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def reference_image_key(project_id: str, job_id: str, content_type: str) -> str:
    """Where a job's reference image is kept (beside nothing else of the customer's: one per job)."""
    extension = _IMAGE_EXTENSIONS.get(content_type, "img")
    return validate_key(f"references/{project_id}/{job_id}/reference.{extension}")
