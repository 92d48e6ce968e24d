"""Pure ASGI middleware: a request-body size cap and a request id on every response."""

from __future__ import annotations

import json
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ErrorCode
from observability.http import HttpMiddleware


async def _send_problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": f"https://infrai.dev/problems/{code.replace('_', '-')}", "title": title, "status": status,
         "detail": detail, "code": code}
    ).encode()  # fmt: skip
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit(HttpMiddleware):
    """Refuse bodies over ``max_bytes`` with 413, whether or not they announce a Content-Length.

    A streamed (chunked) body is cut off the moment it passes the cap: the 413 is sent from here and the
    app sees the client disconnect. Raising instead would not work: FastAPI turns any error while it reads
    the body into its own 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
        received = 0
        started = exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, started, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    if not started:
                        started = True
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the 413 was the answer; whatever the app says after it goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not exceeded:
                raise
            # The app failed reading a body we cut off (a client disconnect); it was answered already.

    async def _refuse(self, send: Send) -> None:
        await _send_problem(send, 413, ErrorCode.PAYLOAD_TOO_LARGE, "Payload too large",
                            f"request bodies are limited to {self.max_bytes} bytes")  # fmt: skip


class RequestId(HttpMiddleware):
    """Echo a sane ``X-Request-Id`` or mint one, so clients and logs can name a request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ""
        for name, value in scope["headers"]:
            if (
                name == b"x-request-id"
                and 0 < len(value) <= 64
                and value.isascii()
                and value.decode().isprintable()
            ):
                request_id = value.decode()
        request_id = request_id or "req_" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, with_id)
