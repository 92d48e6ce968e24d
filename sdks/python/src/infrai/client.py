"""``Infrai`` and ``AsyncInfrai``: the same resources, run by a sync or an async driver."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from infrai.accounts import Accounts, AccountsResource, AsyncAccounts
from infrai.backoff import PollPacing, RetryPolicy
from infrai.calls import ClientConfig
from infrai.credentials import credentials_path, resolve_base_url
from infrai.drivers import run_async, run_sync
from infrai.effects import Plan
from infrai.ratelimits import RateLimit
from infrai.video import AsyncVideo, Video, VideoResource
from infrai.webhooks import AsyncWebhooks, Webhooks

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class _ClientBase(Generic[HttpT]):
    """Configuration shared by both clients. Building one does no I/O: the key is read on first use."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        *,
        http_client: HttpT | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_pacing: PollPacing | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """
        ``api_key``: else ``INFRAI_API_KEY``, else the credentials file. ``base_url``: else
        ``INFRAI_BASE_URL``, else ``http://127.0.0.1:8000``. ``max_retries`` counts retries after the
        first attempt. ``http_client`` lets you bring your own (proxies, transports); the client does not
        close one it did not create.
        """
        self.config = ClientConfig(
            base_url=resolve_base_url(base_url),
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            retry=dataclasses.replace(retry_policy or RetryPolicy(), max_retries=max_retries),
            poll_pacing=poll_pacing or PollPacing(),
            credentials_path=Path(credentials_file) if credentials_file else credentials_path(),
            explicit_api_key=api_key,
        )
        self._owns_http = http_client is None
        self._http: HttpT = http_client if http_client is not None else self._new_http_client()

    def _new_http_client(self) -> HttpT:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """What the server last said of this key's rate limits (its ``RateLimit`` field): per policy,
        the requests left and the seconds until the window ends. Empty until a response carried one."""
        return self.config.rate_limits

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class Infrai(_ClientBase[httpx.Client]):
    """The synchronous client: ``Infrai().video.generate("...")``."""

    @cached_property
    def video(self) -> Video:
        return VideoResource(self.config, self._run)

    @cached_property
    def accounts(self) -> Accounts:
        return AccountsResource(self.config, self._run)

    @cached_property
    def webhooks(self) -> Webhooks:
        return Webhooks(self.config, self._run)

    def _new_http_client(self) -> httpx.Client:
        return httpx.Client(follow_redirects=True)

    def _run(self, plan: Plan[Any]) -> Any:
        return run_sync(plan, self._http)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Infrai:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncInfrai(_ClientBase[httpx.AsyncClient]):
    """The asyncio client: ``await AsyncInfrai().video.generate("...")``."""

    @cached_property
    def video(self) -> AsyncVideo:
        return VideoResource(self.config, self._run)

    @cached_property
    def accounts(self) -> AsyncAccounts:
        return AccountsResource(self.config, self._run)

    @cached_property
    def webhooks(self) -> AsyncWebhooks:
        return AsyncWebhooks(self.config, self._run)

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=True)

    def _run(self, plan: Plan[Any]) -> Awaitable[Any]:
        return run_async(plan, self._http)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncInfrai:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
