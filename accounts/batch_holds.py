"""A batch's credit holds: one per item, all placed in one transaction, so a batch is held whole or not at
all. Each is an ordinary ``ledger.place_hold`` (every check a hold makes, the balance and the spend and
concurrency caps of the project and the key, applies per item and sees the items held before it), keyed by
the item's job id: a retried batch holds nothing more. A refusal names the whole batch, not the item it
happened at: what the batch needs, and what was there for it before any of its items was held."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from accounts import ledger
from accounts.database import Database
from accounts.errors import BudgetExceeded, ConcurrencyLimitExceeded, HoldSettled, InsufficientCredits
from accounts.ledger import UNATTRIBUTED, Attribution
from accounts.money import from_micros


@dataclass(frozen=True)
class ItemHold:
    job_id: str
    micros: int
    request: str  # the item's fingerprint
    attribution: Attribution = UNATTRIBUTED  # the key that asked (its caps apply), the route's first model


async def place_batch_holds(
    db: Database, conn: AsyncConnection, project_id: str, holds: list[ItemHold], now: datetime
) -> list[bool]:
    """Hold every item on ``conn`` (the caller's transaction); per item, whether it is held now (False: its
    hold was settled already, its job ended or never will start). ``InsufficientCredits``,
    ``BudgetExceeded`` and ``ConcurrencyLimitExceeded`` name the whole batch; the caller's rollback undoes
    every hold."""
    held: list[bool] = []
    reserved = 0  # micros this call held so far: the batch's own share of the balance and of the caps
    placed = 0  # holds this call placed so far: the batch's own share of the running jobs
    for hold in holds:
        try:
            amount = await ledger.place_hold(
                db, conn, project_id, hold.job_id, hold.micros, now,
                request=hold.request, attribution=hold.attribution,
            )  # fmt: skip
        except HoldSettled:
            held.append(False)
            continue
        except InsufficientCredits as err:
            raise InsufficientCredits(
                available=err.available + from_micros(reserved), required=_needed(holds)
            ) from None
        except BudgetExceeded as err:
            cap = err.violation
            spent = cap.spent - from_micros(reserved)
            raise BudgetExceeded(
                dataclasses.replace(
                    cap, spent=spent, remaining=max(cap.cap - spent, Decimal(0)), required=_needed(holds)
                )
            ) from None
        except ConcurrencyLimitExceeded as err:
            raise ConcurrencyLimitExceeded(err.scope, err.key_id, err.limit, err.running - placed) from None
        reserved += amount
        placed += 1
        held.append(True)
    return held


def _needed(holds: list[ItemHold]) -> Decimal:
    return from_micros(sum(item.micros for item in holds))
