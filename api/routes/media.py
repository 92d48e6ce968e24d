"""Serving local-backend media at HMAC-signed, expiring URLs (``storage.signing``).

S3 media is never proxied: its URLs are presigned and point at S3 itself, so with the S3 backend this
route answers 404. Range requests (206) come from Starlette's ``FileResponse``, which players and
browsers use to seek in a video.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from api.problems import ProblemError, problem_responses
from core.errors import ErrorCode
from storage import LocalMediaStorage, MediaSignatureStatus, MediaStorage
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


async def get_media_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.storage
    return storage


@router.api_route(
    "/v1/media/{key:path}",
    methods=["GET", "HEAD"],
    response_class=FileResponse,
    summary="Download a stored video or thumbnail through its signed URL",
    responses={
        200: {"description": "The object", "content": _MEDIA_CONTENT},
        206: {"description": "The requested byte range", "content": _MEDIA_CONTENT},
        **problem_responses(
            403, 404, 422, described={403: "Bad or expired signature", 404: "No such object"}
        ),
    },
)
async def get_media(
    key: str,
    storage: Annotated[MediaStorage, Depends(get_media_storage)],
    exp: str | None = None,
    sig: str | None = None,
) -> FileResponse:
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
    return FileResponse(
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
