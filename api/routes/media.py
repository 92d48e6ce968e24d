"""Serving local-backend media at HMAC-signed, expiring URLs (``storage.signing``).

S3 media is never proxied: its URLs are presigned and point at S3 itself, so with the S3 backend this
route answers 404. Range requests (206) come from Starlette's ``FileResponse``, which players and
browsers use to seek in a video.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from api.deps import StorageDep
from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode
from storage import LocalMediaStorage, MediaSignatureStatus
from storage.errors import InvalidObjectKeyError

router = APIRouter(tags=["media"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_MEDIA_CONTENT = {"video/mp4": _BINARY, "image/*": _BINARY}

INVALID_SIGNATURE = "invalid_signature"
EXPIRED_URL = "expired_url"
# The URLs we sign expire within the hour, so their ``exp`` is a unix time of 10 digits. 12 digits reach
# the year 33658; anything longer was never signed by us, and is refused before ``int`` meets it (a few
# thousand digits would be past Python's int-from-string limit, a ValueError).
MAX_EXP_DIGITS = 12
INVALID_RANGE = "invalid_range"
RANGE_NOT_SATISFIABLE = "range_not_satisfiable"


class MediaFileResponse(FileResponse):
    """``FileResponse`` whose refusals of a ``Range`` header are problem JSON like every other error of the
    API, not Starlette's plain text. They are raised before the first byte is sent, so the app's problem
    handler answers them."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as err:
            # e.g. "bytes=0-<5000 digits>": Starlette skips a range int() cannot read, leaving none.
            raise ProblemError(400, INVALID_RANGE, f"{err.content} (got {http_range[:100]!r})") from None
        except RangeNotSatisfiable as err:
            raise ProblemError(
                416,
                RANGE_NOT_SATISFIABLE,
                f"The range starts past the end of the {err.max_size}-byte object.",
                headers={"Content-Range": f"bytes */{err.max_size}"},
            ) from None


# GET and HEAD are two routes with their own operation ids: one route for both gave the two the same id
# (FastAPI warned) and listed them in an order that depended on the hash seed.
_MEDIA_ROUTE: dict[str, Any] = dict(
    path="/v1/media/{key:path}",
    response_class=MediaFileResponse,
    summary="Download a stored video or thumbnail through its signed URL",
    responses={
        200: {"description": "The object", "content": _MEDIA_CONTENT},
        206: {"description": "The requested byte range", "content": _MEDIA_CONTENT},
        **problem_responses(
            400,
            403,
            404,
            416,
            422,
            described={
                400: "A malformed Range header",
                403: "Bad or expired signature",
                404: "No such object",
                416: "The Range starts past the end of the object",
            },
        ),
    },
)


@router.head(operation_id="head_media", **_MEDIA_ROUTE)
@router.get(operation_id="get_media", **_MEDIA_ROUTE)  # registered first (decorators apply bottom-up)
async def get_media(
    key: str,
    storage: StorageDep,
    exp: str | None = None,
    sig: str | None = None,
) -> MediaFileResponse:
    if not isinstance(storage, LocalMediaStorage):
        raise _not_found(key)
    expires_at = _check_signature(storage, key, exp, sig)
    try:
        path = storage.local_path(key)
        stored = await storage.head(key)
    except InvalidObjectKeyError:
        raise _not_found(key) from None
    if stored is None:
        raise _not_found(key)
    # The URL itself expires, so caches may keep the bytes at most until then, and only privately.
    max_age = max(0, expires_at - int(time.time()))
    return MediaFileResponse(
        path,
        media_type=stored.content_type,
        headers={"Cache-Control": f"private, max-age={max_age}"},
    )


def _check_signature(storage: LocalMediaStorage, key: str, exp: str | None, sig: str | None) -> int:
    if exp is None or sig is None or not (exp.isascii() and exp.isdigit()):
        raise ProblemError(
            403, INVALID_SIGNATURE, "This media URL is not signed; ask the API for a fresh one."
        )
    status = (
        storage.verify_signature(key, int(exp), sig)
        if len(exp) <= MAX_EXP_DIGITS
        else MediaSignatureStatus.INVALID
    )
    if status is MediaSignatureStatus.INVALID:
        raise ProblemError(403, INVALID_SIGNATURE, "This media URL's signature is not valid.")
    if status is MediaSignatureStatus.EXPIRED:
        raise ProblemError(
            403, EXPIRED_URL, "This media URL has expired; fetch the job again for a fresh one."
        )
    return int(exp)


def _not_found(key: str) -> ProblemError:
    return ProblemError(404, ErrorCode.NOT_FOUND, f"No media at {key!r}.")
