"""Rehost's blocking download (``activities.rehost_download``) against a real HTTP server on loopback: the
body arrives whole and in order, refusals keep their status, a body cut short or a non-HTTP URL is a
retryable failure, credentials do not follow a redirect to another origin, and a cancelled download
stops a read that is waiting on a stalled source at once (which meanwhile keeps calling back, for
heartbeats)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activities.rehost_download import (
    BlockingDownload,
    DownloadFailedError,
    DownloadRefusedError,
    download_chunks,
)
from storage.digest import Digest

BODY = os.urandom(3 * 1024 * 1024 + 17)


class _Source(BaseHTTPRequestHandler):
    stall_released = threading.Event()
    seen_authorization: list[str | None] = []

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        if self.path == "/video":
            self._answer(200, BODY)
        elif self.path == "/gone":
            self._answer(410, b"expired")
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])
            self.close_connection = True
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/whoami":
            _Source.seen_authorization.append(self.headers.get("Authorization"))
            self._answer(200, b"ok")
        elif self.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:4096])
            self.wfile.flush()
            _Source.stall_released.wait(120)

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def source() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        _Source.stall_released.set()
        server.shutdown()
        server.server_close()


async def _opened(
    url: str, headers: dict[str, str] | None = None, timeout: float = 30, digest: Digest | None = None
) -> BlockingDownload:
    download = BlockingDownload(url, headers or {}, timeout=timeout, digest=digest)
    await asyncio.to_thread(download.open)
    return download


async def _body(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_the_body_arrives_whole_and_in_order(source: int) -> None:
    download = await _opened(f"http://127.0.0.1:{source}/video")

    body = await _body(download_chunks(download))

    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(BODY).hexdigest()
    assert download.received == len(BODY)


async def test_a_chunk_size_gives_chunks_of_exactly_that_size_but_the_last(source: int) -> None:
    download = await _opened(f"http://127.0.0.1:{source}/video")

    sizes = [len(chunk) async for chunk in download_chunks(download, chunk_bytes=1024 * 1024)]

    assert sizes == [1024 * 1024] * 3 + [17]


@pytest.mark.parametrize("chunk_bytes", [None, 1024 * 1024])  # as the socket delivers, and exact chunks
async def test_a_digest_given_to_the_download_hashes_exactly_the_body(
    source: int, chunk_bytes: int | None
) -> None:
    digest = Digest()
    download = await _opened(f"http://127.0.0.1:{source}/video", digest=digest)

    body = await _body(download_chunks(download, chunk_bytes=chunk_bytes))

    assert body == BODY
    assert (digest.size, digest.hexdigest()) == (len(BODY), hashlib.sha256(BODY).hexdigest())


async def test_an_error_status_is_a_refusal_that_keeps_its_code(source: int) -> None:
    with pytest.raises(DownloadRefusedError) as refused:
        await _opened(f"http://127.0.0.1:{source}/gone")

    assert refused.value.status == 410


async def test_a_body_cut_short_is_a_failure_not_a_smaller_video(source: int) -> None:
    download = await _opened(f"http://127.0.0.1:{source}/short")

    with pytest.raises(DownloadFailedError, match="early"):
        await _body(download_chunks(download))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"])
async def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(DownloadFailedError):
        await _opened(url)


async def test_a_redirect_to_a_non_http_url_is_refused(source: int) -> None:
    with pytest.raises(DownloadRefusedError):
        await _opened(f"http://127.0.0.1:{source}/redirect?to=file:///etc/passwd")


async def test_authorization_follows_a_redirect_within_the_origin_only(source: int) -> None:
    _Source.seen_authorization.clear()
    headers = {"Authorization": "Bearer vendor-key"}
    same = f"http://127.0.0.1:{source}/redirect?to=/whoami"
    other = f"http://127.0.0.1:{source}/redirect?to=http://localhost:{source}/whoami"

    for url in (same, other):
        download = await _opened(url, headers)
        assert await _body(download_chunks(download)) == b"ok"

    assert _Source.seen_authorization == ["Bearer vendor-key", None]


async def test_a_stalled_read_keeps_calling_back_and_a_cancel_stops_it(source: int) -> None:
    # A read timeout far beyond the test's: only the abort can end the blocked read in time.
    download = await _opened(f"http://127.0.0.1:{source}/stall", timeout=600)
    waited = asyncio.Event()
    task = asyncio.create_task(_body(download_chunks(download, while_waiting=waited.set)))

    await asyncio.wait_for(waited.wait(), 30)  # the heartbeat's hook, while no chunk is complete
    task.cancel()

    done, _ = await asyncio.wait([task], timeout=60)
    assert task in done and task.cancelled()
