"""Temporal being unreachable: ``TemporalUnavailable`` (the API's ``503`` + ``Retry-After``), never a 500.

What the SDK raises when the server is down (temporalio 1.35, checked against a killed and a stopped dev
server, see tests/test_outages_temporal.py):
- a ``lazy=True`` client that never connected: ``RuntimeError("Failed client connect: ...")`` on every call
  until the server answers (the client connects again by itself on the next call);
- a connected client whose server went away: ``RPCError`` ``UNAVAILABLE`` ("tcp connect error") once the
  SDK's own retries are spent;
- a server that accepts but does not answer (stopped, overloaded): ``RPCError`` ``CANCELLED`` ("Timeout
  expired") when the call's ``rpc_timeout`` passes; without a timeout the call would hang, which is why
  every API call to Temporal carries one;
- a lazy client whose first call meets such a server: ``RuntimeError("Failed client connect: ...
  get_system_info ... Timeout expired")`` after 30 s, whatever the timeouts: hence a deadline on the
  whole operation as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.service import RPCError, RPCStatusCode

from jobs.errors import TemporalUnavailable

logger = logging.getLogger(__name__)

_OUTAGE_STATUSES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,  # the SDK's rpc_timeout expiring
}
_CONNECT_FAILED = "Failed client connect"


def is_temporal_outage(error: BaseException) -> bool:
    """Whether ``error`` means Temporal could not be reached or did not answer in time."""
    if isinstance(error, RPCError):
        return error.status in _OUTAGE_STATUSES
    return isinstance(error, RuntimeError) and str(error).startswith(_CONNECT_FAILED)


def temporal_unavailable(error: BaseException) -> TemporalUnavailable:
    logger.warning("temporal unavailable: %s", error)
    return TemporalUnavailable(str(error))


@asynccontextmanager
async def temporal_outages_translated(deadline: float) -> AsyncIterator[None]:
    """Turn a Temporal outage inside the block into ``TemporalUnavailable``; other errors pass unchanged.

    ``deadline`` bounds the whole block, connecting included: a lazy client's first call to a server that
    accepts but does not answer waits out the SDK's fixed 30 s ``get_system_info`` timeout, which no
    ``rpc_timeout`` shortens."""
    try:
        async with asyncio.timeout(deadline):
            yield
    except TimeoutError as error:
        raise temporal_unavailable(error) from error
    except (RPCError, RuntimeError) as error:
        if not is_temporal_outage(error):
            raise
        raise temporal_unavailable(error) from error
