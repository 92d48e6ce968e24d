"""Reading an OpenAI ``videos.create`` request (multipart form as the SDK sends it, or JSON) into our
``GenerateRequest``; what cannot be mapped is an ``OpenAIRequestError`` naming the field."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.openai_schemas import OpenAIRequestError, image_data_uri, parse_model, parse_seconds, parse_size
from api.schemas import GenerateRequest

MAX_JSON_INT_DIGITS = 20


async def create_request_fields(request: Request, max_image_bytes: int) -> dict[str, Any]:
    """The create request's fields, from a form or a JSON body (as its content type says)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _form_fields(request, max_image_bytes)
    return await _json_fields(request)


async def _form_fields(request: Request, max_image_bytes: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    async with request.form(max_files=1, max_fields=20) as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "input_reference":
                    raise OpenAIRequestError(key, f"unexpected file field {key!r}")
                data = await value.read(max_image_bytes + 1)
                if len(data) > max_image_bytes:
                    raise OpenAIRequestError(key, f"the image is larger than {max_image_bytes} bytes")
                fields["reference_image_url"] = image_data_uri(value.content_type, data)
            elif key == "input_reference[image_url]":
                fields["reference_image_url"] = value
            elif key.startswith("input_reference"):
                raise OpenAIRequestError("input_reference", "only an image upload or image_url is supported")
            else:
                fields[key] = value
    return fields


def _json_int(digits: str) -> int:
    """Integers of the JSON body, refused past any length a field could need: Python's own limit (4300
    digits) would otherwise call a valid document "not valid JSON"."""
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise OpenAIRequestError(
            "body", f"a number in the body has {len(digits)} digits; no field takes that"
        )
    return int(digits)


async def _json_fields(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body(), parse_int=_json_int)
    except OpenAIRequestError:
        raise
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError both are
        raise OpenAIRequestError("body", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise OpenAIRequestError("body", "the body must be a JSON object")
    reference = body.pop("input_reference", None)
    if reference is not None:
        if not (isinstance(reference, dict) and set(reference) == {"image_url"}):
            raise OpenAIRequestError("input_reference", 'only {"image_url": ...} is supported')
        body["reference_image_url"] = reference["image_url"]
    return body


def generate_request(fields: dict[str, Any]) -> GenerateRequest:
    if not isinstance(fields.get("prompt"), str):
        raise OpenAIRequestError("prompt", "prompt is required and must be a string")
    seconds, size, model = fields.get("seconds"), fields.get("size"), fields.get("model")
    if not all(value is None or isinstance(value, str | int) for value in (seconds, size, model)):
        raise OpenAIRequestError("body", "seconds, size and model must be strings")
    aspect, resolution = parse_size(None if size is None else str(size))
    prefer, pinned = parse_model(None if model is None else str(model))
    try:
        return GenerateRequest(
            prompt=fields["prompt"],
            reference_image_url=fields.get("reference_image_url"),
            duration_seconds=parse_seconds(seconds if isinstance(seconds, str | int) else None),
            aspect=aspect,
            resolution=resolution,
            prefer=prefer,
            model=pinned,
        )
    except ValidationError as err:
        first = err.errors()[0]
        param = str(first["loc"][0]) if first.get("loc") else None
        raise OpenAIRequestError(param or "body", str(first["msg"])) from None
