"""The playground page at ``/``: plain HTML and one script (``api/static``), no build step.

It talks to the public API from the browser with the key the user pastes (or a trial it activates), so it
shows nothing the API would not. The page is served with a strict Content-Security-Policy: scripts and
styles only from here, media and thumbnails from anywhere (S3 presigned URLs live on other hosts).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
ASSETS_PATH = "/playground"

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
        "media-src 'self' https: http: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["playground"])


@router.get("/", include_in_schema=False)
async def playground() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_HEADERS)


def playground_assets() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
