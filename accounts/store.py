"""``AccountStore``: the one object the API, the launcher and the ledger activity use for accounts.

Build it once at start-up (``await AccountStore.open(url, settings=...)``, which applies migrations),
hand it down, ``await store.aclose()`` at shutdown. Every method raises ``AccountsUnavailable`` when
the database cannot be reached; nothing is half-written then, because each method is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal
from typing import Self

from pydantic import SecretStr
from sqlalchemy import select, text, update

from accounts import ledger, projects, webhooks
from accounts.batch_holds import ItemHold, place_batch_holds
from accounts.budget_book import BudgetBook
from accounts.database import Database
from accounts.errors import ProjectNotFound
from accounts.keys import client_address_hash, hashes_match, new_api_key, parse_api_key
from accounts.ledger import UNATTRIBUTED, Attribution
from accounts.migrate import upgrade_to_head
from accounts.money import from_micros, to_micros
from accounts.rate_limits import DatabaseCounter
from accounts.sealing import SecretSealer
from accounts.submit_journal import SubmitJournal
from accounts.tables import api_keys, deleted_jobs, utc_now
from accounts.vendor_timings import VendorTimings
from accounts.verified_keys import VerifiedKeyCache as VerifiedKeyCache  # importable from here as before
from accounts.views import AccountView, ActivationResult, HoldView, NewKey, Settlement
from accounts.webhook_log import WebhookDeliveryLog
from core.models import ProjectIdentity, WebhookAttempt
from core.settings import Settings

logger = logging.getLogger(__name__)


class AccountStore:
    def __init__(self, database: Database, settings: Settings, sealer: SecretSealer | None = None) -> None:
        self._db = database
        self._settings = settings
        self._verified = VerifiedKeyCache(settings.api_key_cache_seconds)
        self._sealer = sealer or SecretSealer.from_settings(settings)

    @classmethod
    async def open(cls, database_url: str, *, settings: Settings) -> Self:
        sealer = SecretSealer.from_settings(settings)  # first: a bad key setting stops before any DB work
        database = Database(
            database_url,
            connect_timeout=settings.database_connect_timeout_seconds,
            pool_size=settings.database_pool_size,
            retry_after=settings.accounts_retry_after_seconds,
        )
        if settings.accounts_encryption_keys is None and not database.is_sqlite:
            # A shared database usually means processes on several machines, each with its own data folder.
            logger.warning(
                "INFRAI_ACCOUNTS_ENCRYPTION_KEYS is unset: webhook secrets are sealed with the key in %s, "
                "which API and worker processes not sharing that folder cannot open; set the same keys "
                "on all of them",
                settings.data_dir,
            )
        try:
            await upgrade_to_head(database, sealer)
        except BaseException:
            await database.aclose()
            raise
        return cls(database, settings, sealer)

    async def aclose(self) -> None:
        await self._db.aclose()

    async def ping(self) -> None:
        """Raise ``AccountsUnavailable`` unless the database answers right now (readiness)."""
        async with self._db.read() as conn:
            await conn.execute(text("SELECT 1"))

    @property
    def is_sqlite(self) -> bool:
        return self._db.is_sqlite

    def budget_book(self) -> BudgetBook:
        """Budgets and usage on this store's database (see ``accounts/budget_book.py``)."""
        return BudgetBook(self._db)

    def vendor_timings(self) -> VendorTimings:
        """Measured vendor times per bucket on this store's database (``accounts/vendor_timings.py``)."""
        return VendorTimings(self._db)

    def request_counter(self) -> DatabaseCounter:
        """Rate-limit counts on this store's database, shared by every API replica."""
        return DatabaseCounter(self._db)

    def submit_journal(self) -> SubmitJournal:
        """The vendor submit journal on this store's database (see ``accounts/submit_journal.py``)."""
        return SubmitJournal(self._db)

    def webhook_log(self) -> WebhookDeliveryLog:
        """The webhook delivery log read by message (see ``accounts/webhook_log.py``)."""
        return WebhookDeliveryLog(self._db)

    async def authenticate(self, api_key: str) -> ProjectIdentity | None:
        """The project of a valid, unrevoked key; None for anything else (all failures look alike)."""
        presented = parse_api_key(api_key)
        if presented is None:
            return None
        cached = self._verified.get(presented.key_hash)
        if cached is not None:
            return cached
        async with self._db.read() as conn:
            row = await projects.find_key(conn, presented.key_id)
        if row is None or row.revoked_at is not None or not hashes_match(row.key_hash, presented.key_hash):
            return None
        identity = ProjectIdentity(project_id=row.project_id, key_id=presented.key_id)
        self._verified.put(presented.key_hash, identity)
        return identity

    async def activate_anonymous(self, client_address: str) -> ActivationResult:
        """A new project with trial credits and its first key. Raises ``ActivationRateLimited``."""
        api_key = new_api_key()
        presented = parse_api_key(api_key)
        assert presented is not None
        credits = self._settings.trial_credits_usd
        client_hash = client_address_hash(client_address)
        now = utc_now()
        async with self._db.write() as conn:
            global_limit = self._settings.activate_global_limit_per_hour
            await projects.check_global_activation_allowance(self._db, conn, global_limit, now)
            limit = self._settings.activate_rate_limit_per_hour
            await projects.check_activation_allowance(self._db, conn, client_hash, limit, now)
            project_id = await projects.create_project(
                self._db, conn, kind="anonymous", credits_micros=to_micros(credits), now=now
            )
            await projects.add_key(conn, project_id, api_key, presented, now)
            await projects.record_activation(conn, client_hash, project_id, now)
        logger.info("activated project %s (key %s)", project_id, presented.key_id)
        return ActivationResult(
            project_id=project_id,
            key_id=presented.key_id,
            api_key=api_key,
            balance_usd=from_micros(to_micros(credits)),
            trial_credits_usd=credits,
        )

    async def ensure_dev_project(self, api_key: str, credits: Decimal) -> ProjectIdentity:
        """Make the launcher's configured key an ordinary, working project key (created once, credits once).

        The key must have our format (``accounts.keys.new_api_key()`` makes one). If it was revoked it is
        restored: the configuration says this key is the way in.
        """
        presented = parse_api_key(api_key)
        if presented is None:
            raise ValueError("the development key must be 'ifr_pk_proj_' + 32-128 url-safe characters")
        now = utc_now()
        async with self._db.write() as conn:
            await self._db.lock_name(conn, "dev-project")
            row = await projects.find_key(conn, presented.key_id)
            if row is not None:
                if not hashes_match(row.key_hash, presented.key_hash):
                    raise ValueError(f"key id {presented.key_id} already belongs to a different key")
                if row.revoked_at is not None:
                    await conn.execute(
                        update(api_keys).where(api_keys.c.key_id == presented.key_id).values(revoked_at=None)
                    )
                return ProjectIdentity(project_id=row.project_id, key_id=presented.key_id)
            project_id = await projects.create_project(
                self._db, conn, kind="dev", credits_micros=to_micros(credits), now=now
            )
            await projects.add_key(conn, project_id, api_key, presented, now)
        logger.info("created development project %s (key %s)", project_id, presented.key_id)
        return ProjectIdentity(project_id=project_id, key_id=presented.key_id)

    async def hold(
        self,
        project_id: str,
        job_id: str,
        amount: Decimal,
        *,
        request: str | None = None,
        attribution: Attribution = UNATTRIBUTED,
        unless_deleted: bool = False,
    ) -> Decimal:
        """Reserve credits for a job; the amount held. A repeat for the same job (and ``request``
        fingerprint) holds nothing more and returns the first amount. Raises ``InsufficientCredits``,
        ``BudgetExceeded`` or ``ConcurrencyLimitExceeded`` (nothing held), ``HoldConflict`` (held for
        another request), ``HoldSettled`` (the job id's hold was settled: it cannot hold again) or
        ``ProjectNotFound``. ``attribution`` names the key (whose caps apply too), vendor and model.
        ``unless_deleted``: first ``HoldOfDeletedJob`` if the job was deleted (``mark_job_deleted``),
        told by the hold's own statements rather than a read of its own before them."""
        async with self._db.write() as conn:
            held = await ledger.place_hold(
                self._db, conn, project_id, job_id, to_micros(amount), utc_now(),
                request=request, attribution=attribution, unless_deleted=unless_deleted,
            )  # fmt: skip
        return from_micros(held)

    async def hold_batch(self, project_id: str, holds: list[ItemHold]) -> list[bool]:
        """Hold every item of a batch in one transaction, or none (``accounts.batch_holds``)."""
        async with self._db.write() as conn:
            return await place_batch_holds(self._db, conn, project_id, holds, utc_now())

    async def release_stale_hold(self, job_id: str, why: str) -> Settlement:
        """Release a hold no job will ever settle (the reconciler's verdict ``why``), charging nothing.
        Should a job under it start after all, its own settlement still charges it."""
        return await self.settle(job_id, charge=Decimal(0), reason=f"{ledger.RECONCILED}:{why}")

    async def settle(
        self, job_id: str, *, charge: Decimal, reason: str, project_id: str | None = None
    ) -> Settlement:
        """Charge the job ``charge`` (0 to just release) and close its hold, once: repeats return the
        first settlement with ``replayed=True``. Without a hold (nothing was held, e.g. a vendor billing
        for a job we never held for) pass ``project_id``; otherwise ``HoldNotFound``."""
        async with self._db.write() as conn:
            return await ledger.settle_hold(
                self._db,
                conn,
                job_id,
                charge_micros=to_micros(charge),
                reason=reason,
                project_id=project_id,
                now=utc_now(),
            )

    async def account(self, project_id: str) -> AccountView:
        async with self._db.read() as conn:
            return await projects.account_view(conn, project_id)

    async def create_key(self, project_id: str) -> NewKey:
        api_key = new_api_key()
        presented = parse_api_key(api_key)
        assert presented is not None
        async with self._db.write() as conn:
            if (await projects.find_project(conn, project_id)) is None:
                raise ProjectNotFound(project_id)
            new_key = await projects.add_key(conn, project_id, api_key, presented, utc_now())
        logger.info("created key %s for project %s", presented.key_id, project_id)
        return new_key

    async def revoke_key(self, project_id: str, key_id: str) -> bool:
        """Revoke a key of this project (False: no such key here). Raises ``LastActiveKey``."""
        async with self._db.write() as conn:
            revoked = await projects.revoke_key(conn, project_id, key_id, utc_now())
        if revoked:
            self._verified.forget_key(key_id)
            logger.info("revoked key %s of project %s", key_id, project_id)
        return revoked

    async def stale_holds(self, older_than: timedelta) -> list[HoldView]:
        """Unsettled holds placed more than ``older_than`` ago, oldest first (for reconciliation)."""
        async with self._db.read() as conn:
            return await ledger.open_holds(conn, utc_now() - older_than)

    async def webhook_secret(self, project_id: str) -> SecretStr:
        """The project's webhook signing secret (``whsec_...``), created on first use."""
        async with self._db.write() as conn:
            if (await projects.find_project(conn, project_id)) is None:
                raise ProjectNotFound(project_id)
            secret = await webhooks.get_or_create_secret(self._db, conn, self._sealer, project_id, utc_now())
            return SecretStr(secret)

    async def record_webhook_attempt(self, attempt: WebhookAttempt) -> None:
        async with self._db.write() as conn:
            await webhooks.record_attempt(conn, attempt, utc_now())

    async def webhook_attempts(self, project_id: str, job_id: str) -> list[WebhookAttempt]:
        """Every delivery attempt of the job's webhooks, oldest first."""
        async with self._db.read() as conn:
            return await webhooks.attempts_of_job(conn, project_id, job_id)

    async def mark_job_deleted(self, project_id: str, job_id: str) -> None:
        """Remember that the project deleted the job (repeats change nothing)."""
        async with self._db.write() as conn:
            await conn.execute(
                self._db.insert_or_ignore(deleted_jobs, "job_id").values(
                    job_id=job_id, project_id=project_id, deleted_at=utc_now()
                )
            )

    async def deleted_among(self, job_ids: Collection[str]) -> set[str]:
        """Which of ``job_ids`` were deleted."""
        if not job_ids:
            return set()
        async with self._db.read_one() as conn:  # asked by every status of a finished job
            rows = await conn.execute(select(deleted_jobs.c.job_id).where(deleted_jobs.c.job_id.in_(job_ids)))
            return {str(row.job_id) for row in rows}
