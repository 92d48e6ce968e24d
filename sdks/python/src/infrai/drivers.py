"""Carry out a plan's I/O: ``run_sync`` with an ``httpx.Client``, ``run_async`` with an ``AsyncClient``.

These are the only places where the sync and async clients differ; everything they run is shared.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Generic, TypeVar, cast

import httpx

from infrai.effects import Effect, Plan, SaveBody, Send, Sleep

T = TypeVar("T")


class _Stepper(Generic[T]):
    """Resumes a plan with the outcome of its last effect and hands back the next one (None: finished)."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self.result: T | None = None

    def resume(self, value: Any = None, error: Exception | None = None) -> Effect | None:
        try:
            return self._plan.throw(error) if error is not None else self._plan.send(value)
        except StopIteration as finished:
            self.result = cast(T, finished.value)
            return None


def run_sync(plan: Plan[T], http: httpx.Client) -> T:
    stepper = _Stepper(plan)
    effect = stepper.resume()
    while effect is not None:
        try:
            outcome = _perform_sync(effect, http)
        except Exception as error:  # handed to the plan, which decides: retry, translate or re-raise
            effect = stepper.resume(error=error)
        else:
            effect = stepper.resume(outcome)
    return cast(T, stepper.result)


async def run_async(plan: Plan[T], http: httpx.AsyncClient) -> T:
    stepper = _Stepper(plan)
    effect = stepper.resume()
    while effect is not None:
        try:
            outcome = await _perform_async(effect, http)
        except Exception as error:
            effect = stepper.resume(error=error)
        else:
            effect = stepper.resume(outcome)
    return cast(T, stepper.result)


def _perform_sync(effect: Effect, http: httpx.Client) -> httpx.Response | None:
    if isinstance(effect, Sleep):
        time.sleep(effect.seconds)
        return None
    if isinstance(effect, Send):
        response = http.send(effect.request, stream=effect.stream)
        if effect.stream and response.is_error:
            response.read()  # the plan reads the problem JSON of an error; only a success is streamed
            response.close()
        return response
    _save_sync(effect)
    return None


async def _perform_async(effect: Effect, http: httpx.AsyncClient) -> httpx.Response | None:
    if isinstance(effect, Sleep):
        await asyncio.sleep(effect.seconds)
        return None
    if isinstance(effect, Send):
        response = await http.send(effect.request, stream=effect.stream)
        if effect.stream and response.is_error:
            await response.aread()
            await response.aclose()
        return response
    await _save_async(effect)
    return None


def _save_sync(effect: SaveBody) -> None:
    try:
        with effect.sink:
            for chunk in effect.response.iter_bytes():
                effect.sink.write(chunk)
    finally:
        effect.response.close()


async def _save_async(effect: SaveBody) -> None:
    # File writes and fsync go to a thread so a large download never blocks the event loop.
    sink = effect.sink
    try:
        await asyncio.to_thread(sink.open)
        async for chunk in effect.response.aiter_bytes():
            await asyncio.to_thread(sink.write, chunk)
        await asyncio.to_thread(sink.commit)
    except BaseException:
        await asyncio.to_thread(sink.abort)
        raise
    finally:
        await effect.response.aclose()
