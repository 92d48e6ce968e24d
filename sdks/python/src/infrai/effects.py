"""The SDK's logic is written once, as plans; a sync or an async driver carries them out.

A plan is a generator that yields the I/O it needs (``Send`` a request, ``Sleep``, ``SaveBody`` of a
streamed response) and is resumed with the result, or has the I/O's exception thrown into it. Retries,
idempotency, polling and error mapping live in the plans (``calls``, ``video``, ``accounts``), so
``Infrai`` and ``AsyncInfrai`` differ only in their driver (``drivers``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from infrai.media import MediaFile

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send ``request``. Resumed with the response (its body read, unless ``stream`` and a success)."""

    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class SaveBody:
    """Stream a response's body into ``sink``, then close the response; resumed with None."""

    response: httpx.Response
    sink: MediaFile


Effect = Send | Sleep | SaveBody
Plan = Generator[Effect, Any, T]
