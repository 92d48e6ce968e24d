"""Downloading a vendor's output with blocking reads in a thread, handed to the event loop a chunk at a time.

httpx's asyncio path cost ~1.1 s of CPU per GiB on loopback (the transport's 256 KiB reads, each copied
into h11's buffer and out again, through anyio and the event loop), against ~0.27 s for ``http.client``
reading into fresh ``bytes`` in a thread (bench/RESULTS.md, P5). So the body is read here, in a thread
that reads a batch per hop while the event loop stores the previous one. Redirects, proxies
from the environment and the TLS trust store follow what the worker's httpx client does
(``httpx.create_ssl_context``; Authorization dropped on a redirect to another origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncGenerator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from storage.digest import Digest
from storage.threads import settle

# Without a chunk size, one thread hop gathers the pieces the socket delivers (each read asks for at most
# READ_BYTES), up to BATCH_BYTES or what arrived in BATCH_SECONDS. Small pieces are hashed and written
# while still in the CPU's caches: reading 8 MiB at a time cost ~40% more CPU into local files (P5).
READ_BYTES = 1024 * 1024
BATCH_BYTES = 4 * 1024 * 1024
BATCH_SECONDS = 0.5
WAIT_SECONDS = 1.0  # how often ``while_waiting`` is called while a read waits on a slow source
MAX_REDIRECTS = 20  # httpx's default
TIMEOUT_SECONDS = 30.0  # per connect and per read, as the worker's httpx client
_SCHEMES = ("http", "https")


class DownloadRefusedError(Exception):
    """The source answered with an HTTP error status (after redirects)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status = status


class DownloadFailedError(Exception):
    """The connection failed or the body ended early: worth another attempt."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req: urllib.request.Request, fp, code, msg, headers, newurl: str
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in _SCHEMES:
            raise urllib.error.HTTPError(newurl, code, "redirected to a non-HTTP URL", headers, fp)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default context (its trust store, environment included), built once: loading the CA
    bundle costs ~10-20 ms of CPU, a fifth of a small video's whole rehost."""
    return httpx.create_ssl_context()


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class BlockingDownload:
    """One GET. ``open`` and ``read_batch`` block (run them in a thread); ``abort`` may be called from
    any thread and makes a blocked read return at once.

    ``digest``: every piece is hashed into it as soon as it is read, in the reading thread, while the
    piece is still in that core's cache (the store is then told, ``put_stream(..., hashed=digest)``).
    Hashed on a thread of its own instead, a 1 GB copy ran ~5% slower with ~5% more CPU, into local
    files and into S3 alike (alternating A/B, bench/RESULTS.md, P5).
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = TIMEOUT_SECONDS,
        digest: Digest | None = None,
    ) -> None:
        self._url = url
        self._headers = dict(headers)
        self._timeout = timeout
        self._digest = digest
        self._response: http.client.HTTPResponse | None = None
        self._aborted = threading.Event()
        self.received = 0

    def open(self) -> None:
        if urlsplit(self._url).scheme not in _SCHEMES:
            raise DownloadFailedError(f"not an HTTP(S) URL: {self._url[:100]!r}")
        # Only HTTP(S): no file:, ftp: or data: handlers, whatever URL a vendor hands us.
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(context=_ssl_context()),
            _Redirects(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        try:
            request = urllib.request.Request(self._url, headers=self._headers, method="GET")  # noqa: S310
            self._response = opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as err:
            err.close()
            raise DownloadRefusedError(err.code, str(err.reason)) from None
        except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
            raise DownloadFailedError(f"{type(err).__name__}: {err}") from err

    def read_pieces(self, chunk_bytes: int | None) -> list[bytes]:
        """The next pieces of the body, in order; [] once it is complete. ``chunk_bytes``: one piece of
        exactly that size (fewer bytes only at the end); None: the pieces as the socket delivers them,
        up to ``BATCH_BYTES`` or what arrived within ``BATCH_SECONDS``."""
        response = self._response
        assert response is not None
        pieces: list[bytes] = []
        gathered, started = 0, time.monotonic()
        try:
            while True:
                piece = response.read(chunk_bytes) if chunk_bytes else response.read1(READ_BYTES)
                if self._aborted.is_set():  # a socket shut down under a read looks like the body's end
                    raise DownloadFailedError("download aborted")
                if not piece:
                    if response.length:  # http.client ends a short Content-Length body silently
                        raise DownloadFailedError(f"the body ended {response.length} bytes early")
                    break
                if self._digest is not None:
                    self._digest.update(piece)  # releases the GIL for large buffers
                pieces.append(piece)
                gathered += len(piece)
                self.received += len(piece)
                if chunk_bytes or gathered >= BATCH_BYTES or time.monotonic() - started >= BATCH_SECONDS:
                    break
        except (OSError, ValueError, http.client.HTTPException) as err:
            raise DownloadFailedError(f"{type(err).__name__}: {err}") from err
        return pieces

    def abort(self) -> None:
        self._aborted.set()
        sock = _socket_of(self._response)
        if sock is not None:
            # The plain socket's shutdown (not SSLSocket's, which drops its TLS state under a reader):
            # the fd stays valid for the reading thread, and its blocked recv returns.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()


def _socket_of(response: http.client.HTTPResponse | None) -> socket.socket | None:
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


async def download_chunks(
    download: BlockingDownload,
    *,
    chunk_bytes: int | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The body of an opened download, in chunks of ``chunk_bytes`` (None: as they arrive; see
    ``read_pieces``), reading the next in a thread while the caller stores these; ``while_waiting`` is
    called every ``WAIT_SECONDS`` a read is still running (a slow source: heartbeats). A cancellation
    aborts the read in flight and waits for its thread."""
    loop = asyncio.get_running_loop()
    # A thread of its own: every chunk is allocated in one malloc arena, which then reuses what the
    # storing threads free (reads spread over the default pool grew the peak RSS by tens of MB).
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infrai-download")
    reading: asyncio.Future[list[bytes]] | None = None
    try:
        reading = loop.run_in_executor(executor, download.read_pieces, chunk_bytes)
        while reading is not None:
            try:
                # asyncio.wait never cancels the read itself, unlike awaiting it.
                while not (await asyncio.wait([reading], timeout=WAIT_SECONDS))[0]:
                    if while_waiting is not None:
                        while_waiting()
            except asyncio.CancelledError:
                download.abort()  # the thread's read returns now; wait for it before closing
                await settle([reading])
                raise
            pieces = reading.result()
            reading = loop.run_in_executor(executor, download.read_pieces, chunk_bytes) if pieces else None
            pieces.reverse()
            while pieces:
                yield pieces.pop()  # not held here once passed on
    finally:
        if reading is not None and not reading.done():  # the consumer failed or stopped early
            download.abort()
            await settle([reading])
        if reading is not None and reading.done() and not reading.cancelled():
            reading.exception()  # collected: the consumer's own error is what matters
        download.close()
        executor.shutdown(wait=False)
