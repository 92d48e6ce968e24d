"""A minimal HTTP/1.1 keep-alive client for the latency measures: asyncio streams plus httptools' parser.

The API's latency is what the benchmarks compare with the raw Temporal calls, and on two shared cores a
client library's own CPU time shows up in that latency: httpx spends about 1.4 ms of CPU per request
here, more than the Temporal SDK spends on a raw call. This client spends a tenth of that, so the
numbers are about the server. (The SDKs keep httpx; its cost is on the caller's machine.)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools


@dataclass
class Response:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:300]}")


class _Reader:
    """httptools callbacks, collecting one response."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> Response:
        self.writer.write(request)
        collected = _Reader()
        parser = httptools.HttpResponseParser(collected)
        while not collected.done:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the connection mid-response")
            parser.feed_data(data)
        return Response(parser.get_status_code(), b"".join(collected.body))


class LeanHttp:
    """``async with LeanHttp(base_url, headers) as http: await http.post(path, json=...)``; connections are
    kept alive and reused, one per concurrent request."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        fixed = {"Host": f"{self._host}:{self._port}", **(headers or {})}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._idle: list[_Connection] = []

    async def __aenter__(self) -> LeanHttp:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.writer.close()
        self._idle.clear()

    async def request(
        self, method: str, path: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        if json_body is not None:
            extra += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed}{extra}\r\n".encode()
        while self._idle:
            connection = self._idle.pop()
            try:
                response = await connection.exchange(head + body)
            except ConnectionError:
                # The server closed it while idle (uvicorn's keep-alive timeout): the request never
                # reached it, so a new connection is the same request, not a second one.
                connection.writer.close()
                continue
            self._idle.append(connection)
            return response
        connection = _Connection(*await asyncio.open_connection(self._host, self._port))
        response = await connection.exchange(head + body)
        self._idle.append(connection)
        return response

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, headers=headers)

    async def post(self, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Response:
        return await self.request("POST", path, json_body=json, headers=headers)
