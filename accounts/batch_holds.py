"""A batch's credit holds: one per item, all placed in one transaction, so a batch is held whole or not at
all. Each is an ordinary ``ledger.place_hold`` (every check a hold makes applies per item and sees the
items held before it), keyed by the item's job id: a retried batch holds nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from accounts import ledger
from accounts.database import Database
from accounts.errors import HoldSettled, InsufficientCredits
from accounts.money import from_micros


@dataclass(frozen=True)
class ItemHold:
    job_id: str
    micros: int
    request: str  # the item's fingerprint


async def place_batch_holds(
    db: Database, conn: AsyncConnection, project_id: str, holds: list[ItemHold], now: datetime
) -> list[bool]:
    """Hold every item on ``conn`` (the caller's transaction); per item, whether it is held now (False: its
    hold was settled already, its job ended or never will start). ``InsufficientCredits`` names the
    whole batch: what it needs, and what was available to it; the caller's rollback undoes every hold."""
    held: list[bool] = []
    reserved = 0
    for hold in holds:
        try:
            reserved += await ledger.place_hold(
                db, conn, project_id, hold.job_id, hold.micros, now, request=hold.request
            )
        except HoldSettled:
            held.append(False)
            continue
        except InsufficientCredits as err:
            total = sum(item.micros for item in holds)
            raise InsufficientCredits(
                available=err.available + from_micros(reserved), required=from_micros(total)
            ) from None
        held.append(True)
    return held
