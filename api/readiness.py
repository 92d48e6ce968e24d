"""Readiness: can this API process serve requests right now? Temporal, the accounts DB and storage must
each answer within a few seconds. Checked concurrently on every ``/readyz`` call, never cached, so a
load balancer sees an outage within one probe interval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from accounts.store import AccountStore
from observability.logs import redact
from storage import MediaStorage

CHECK_TIMEOUT_SECONDS = 3.0
OK = "ok"


async def _temporal(client: Client) -> None:
    # DescribeNamespace rather than a bare health check: a wrong namespace or a key without access to it
    # is as fatal to serving as an unreachable frontend.
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace),
        timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS),
    )


async def _check(probe: Callable[[], Awaitable[None]], seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await probe()
    except TimeoutError:
        return f"unreachable: no answer within {seconds:g}s"
    except Exception as err:
        return redact(f"unreachable: {type(err).__name__}: {err}")[:300]
    return OK


async def check_readiness(
    client: Client, accounts: AccountStore, storage: MediaStorage, *, seconds: float = CHECK_TIMEOUT_SECONDS
) -> dict[str, str]:
    """``{"temporal": "ok", "database": "unreachable: ...", "storage": "ok"}``."""
    names = ("temporal", "database", "storage")
    probes: tuple[Callable[[], Awaitable[None]], ...] = (
        lambda: _temporal(client),
        accounts.ping,
        storage.ping,
    )
    results = await asyncio.gather(*(_check(probe, seconds) for probe in probes))
    return dict(zip(names, results, strict=True))
