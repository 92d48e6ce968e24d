"""One API call as a plan: build the request, send it with retries, map an error answer to an exception.

Retry rules (why each is safe):
- a connection that was never established (connect error / connect timeout) is retried for any request:
  the server never saw it;
- a 429 is retried for any request: the server refused it before doing anything. The wait is the
  server's: ``Retry-After``, else the reset (``t``) of the exhausted policy in its ``RateLimit`` field,
  and only without either a backoff;
- other transport errors and 5xx are retried only for requests marked ``repeatable`` (GETs, cancel, and
  generate, which always carries an ``Idempotency-Key`` so a repeat returns the job the first one made).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from infrai.backoff import RETRYABLE_STATUSES, PollPacing, RetryPolicy
from infrai.credentials import resolve_api_key
from infrai.effects import Plan, Send, Sleep
from infrai.errors import APIConnectionError, APITimeoutError, MissingAPIKeyError, error_from_response
from infrai.ratelimits import RateLimit, exhausted_reset, parse_ratelimit
from infrai.version import __version__

ModelT = TypeVar("ModelT", bound=BaseModel)

USER_AGENT = f"infrai-python/{__version__} python/{platform.python_version()}"
_NEVER_REACHED_SERVER = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass
class ClientConfig:
    """What every request of one client shares: where it goes, as whom, and how patiently."""

    base_url: str
    timeout: httpx.Timeout
    retry: RetryPolicy
    poll_pacing: PollPacing
    credentials_path: Path
    explicit_api_key: str | None = None
    # The ``RateLimit`` field of the last response that carried one (``Infrai.rate_limits``).
    rate_limits: tuple[RateLimit, ...] = ()
    _api_key: str | None = field(default=None, repr=False)

    def api_key(self) -> str:
        """The key, resolved on first use so that building a client never reads files or fails."""
        if self._api_key is None:
            self._api_key = resolve_api_key(self.explicit_api_key, self.credentials_path)
        if self._api_key is None:
            raise MissingAPIKeyError()
        return self._api_key

    def forget_api_key(self) -> None:
        """Resolve the key again on next use (after activate() wrote new credentials)."""
        self._api_key = None

    def url(self, path_or_url: str) -> str:
        """An absolute URL as given; a path is appended to the base URL (which may have a path prefix)."""
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def is_own_origin(self, url: str) -> bool:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Request:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if authenticated:
            all_headers["Authorization"] = f"Bearer {self.api_key()}"
        return httpx.Request(
            method,
            self.url(path_or_url),
            json=json,
            headers=all_headers,
            extensions={"timeout": self.timeout.as_dict()},
        )


def connection_error(error: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    cls = APITimeoutError if isinstance(error, httpx.TimeoutException) else APIConnectionError
    return cls(f"{request.method} {request.url} failed: {type(error).__name__}: {error}", code="connection")


def send(
    config: ClientConfig, request: httpx.Request, *, repeatable: bool, stream: bool = False
) -> Plan[httpx.Response]:
    """The successful response to ``request``, retried where that is safe; raises the mapped error."""
    retries = 0
    while True:
        try:
            response: httpx.Response = yield Send(request, stream=stream)
        except httpx.TransportError as error:
            delay = config.retry.delay(retries, None)
            if delay is None or not (repeatable or isinstance(error, _NEVER_REACHED_SERVER)):
                raise connection_error(error, request) from error
        else:
            config.rate_limits = parse_ratelimit(response.headers.get("RateLimit")) or config.rate_limits
            if response.is_success:
                return response
            api_error = error_from_response(response)
            status = response.status_code
            may_retry = status == 429 or (repeatable and status in RETRYABLE_STATUSES)
            told = api_error.retry_after
            if told is None and status == 429:
                told = exhausted_reset(api_error.rate_limits)
            delay = config.retry.delay(retries, told) if may_retry else None
            if delay is None:
                raise api_error
        retries += 1
        yield Sleep(delay)


def call(
    config: ClientConfig, request: httpx.Request, result: type[ModelT], *, repeatable: bool
) -> Plan[ModelT]:
    response = yield from send(config, request, repeatable=repeatable)
    return result.model_validate(response.json())
