"""Running blocking work (boto3, file I/O) off the event loop without ever racing its cleanup.

A thread cannot be interrupted. When the coroutine waiting on one is cancelled, the thread keeps going;
cleanup that ran at once (closing a file descriptor, aborting a multipart upload) would race it. So these
helpers wait for the thread to finish and only then let the cancellation continue.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Collection
from concurrent.futures import Executor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def settle(futures: Collection[asyncio.Future[Any]]) -> None:
    """Wait until every future is done without cancelling any; then re-raise a cancellation, if any.

    The futures' own results and errors are left for the caller to collect.
    """
    cancellation: asyncio.CancelledError | None = None
    pending = {future for future in futures if not future.done()}
    while pending:
        try:
            # asyncio.wait never cancels what it waits for, unlike awaiting a future directly.
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError as exc:
            cancellation = exc
            pending = {future for future in pending if not future.done()}
    if cancellation is not None:
        raise cancellation


async def run_to_completion(
    executor: Executor | None, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``fn`` in ``executor`` (None: the loop's default) and return its result, even if cancelled
    meanwhile: then it waits for ``fn`` to finish and re-raises the cancellation."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))
    await settle([future])
    return future.result()
