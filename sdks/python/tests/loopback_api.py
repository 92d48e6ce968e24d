"""A real HTTP server on 127.0.0.1 that answers each route with a scripted reply, for tests that run the
``infrai`` command as a separate process (which cannot be handed a MockTransport)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackAPI:
    base_url: str = ""
    replies: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def on(
        self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        content_type = "video/mp4" if isinstance(body, bytes) else "application/json"
        self.replies[(method, path)] = (status, {"Content-Type": content_type, **(headers or {})}, raw)


def _handler_for(api: LoopbackAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            api.requests.append(Recorded(self.command, path, dict(self.headers.items()), body))
            status, headers, raw = api.replies.get(
                (self.command, path),
                (404, {"Content-Type": "application/problem+json"}, b'{"code":"not_found"}'),
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_loopback_api() -> Iterator[LoopbackAPI]:
    api = LoopbackAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(api))
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
