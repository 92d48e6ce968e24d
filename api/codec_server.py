"""The Temporal codec-server protocol, so an operator can read encrypted payloads in the Temporal UI or CLI.

``POST /codec/decode`` and ``POST /codec/encode`` take and answer ``{"payloads": [...]}`` (proto3 JSON:
``metadata`` values and ``data`` are base64). Mounted only when payload encryption is on *and*
``INFRAI_CODEC_OPERATOR_TOKEN`` is set; every call must carry that token, either as
``Authorization: Bearer <token>`` (the CLI's ``--codec-auth``, a proxy) or as a path segment,
``/codec/<token>/decode``, for the Temporal UI, whose codec setting is a bare URL (the embedded launcher
passes it with ``--ui-codec-endpoint``). CORS answers only the UI origins (``INFRAI_CODEC_CORS_ORIGINS``).

Nothing here logs a payload, a key or the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from api.problems import problem_response
from core.errors import ErrorCode
from workflows.encryption import EncryptionCodec, PayloadDecryptionError

MAX_PAYLOADS = 1000  # one history page's worth; the API's body cap bounds the bytes

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def build_codec_app(codec: EncryptionCodec, operator_token: str, cors_origins: list[str]) -> Starlette:
    token = operator_token.encode()

    def authorized(request: Request) -> bool:
        presented = request.path_params.get("token")
        if presented is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            presented = value.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(presented.encode("utf-8", "replace"), token)

    def endpoint(transform: Transform) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not authorized(request):
                return problem_response(
                    401,
                    ErrorCode.UNAUTHORIZED,
                    "The codec endpoint needs the operator token (Authorization: Bearer ...).",
                    headers={"WWW-Authenticate": 'Bearer realm="infrai-codec"'},
                )
            return await _apply(request, transform)

        return handle

    routes = [
        Route(f"{prefix}/{verb}", endpoint(transform), methods=["POST"])
        for prefix in ("", "/{token}")
        for verb, transform in (("decode", codec.decode), ("encode", codec.encode))
    ]
    cors = Middleware(
        CORSMiddleware,
        allow_origins=cors_origins,
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
        max_age=600,
    )
    return Starlette(routes=routes, middleware=[cors])


async def _apply(request: Request, transform: Transform) -> Response:
    try:
        incoming = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError, ValueError):
        return _bad_request('expected {"payloads": [{"metadata": {...}, "data": "<base64>"}]}')
    if len(incoming.payloads) > MAX_PAYLOADS:
        return _bad_request(f"at most {MAX_PAYLOADS} payloads per call")
    try:
        payloads = await transform(list(incoming.payloads))
    except PayloadDecryptionError as err:
        return problem_response(422, ErrorCode.INVALID_INPUT, str(err))
    body: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    return JSONResponse({"payloads": body.get("payloads", [])})


def _bad_request(detail: str) -> Response:
    return problem_response(400, ErrorCode.MALFORMED_JSON, detail)
