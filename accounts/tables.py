"""The accounts schema as SQLAlchemy Core tables (the migrations in ``migrations/versions`` create it)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _cap_columns() -> list[Column[int]]:
    """A project's or a key's hard budget (``accounts/budgets.py``); NULL: no cap."""
    return [
        Column("daily_cap_micros", BigInteger, nullable=True),
        Column("monthly_cap_micros", BigInteger, nullable=True),
        Column("max_concurrent_jobs", Integer, nullable=True),
    ]


def _vendor_attempt_columns() -> list[Column[str]]:
    """Which vendor submit a row is about: one job's attempt at one route candidate (``attempt_key``)."""
    return [
        Column("attempt_key", String(100), primary_key=True),
        Column("job_id", String(64), nullable=False),
        Column("vendor", String(40), nullable=False),
        Column("model", String(120), nullable=False),
    ]


projects = Table(
    "projects",
    metadata,
    Column("project_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),  # "anonymous" | "dev"
    Column("balance_micros", BigInteger, nullable=False),
    Column("held_micros", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    *_cap_columns(),
    CheckConstraint("held_micros >= 0", name="held_not_negative"),
    CheckConstraint("balance_micros >= held_micros", name="balance_covers_held"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.project_id"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    *_cap_columns(),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("entry_id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("project_id", String(40), ForeignKey("projects.project_id"), nullable=False),
    Column("job_id", String(64), nullable=True),  # NULL for grants
    Column("kind", String(16), nullable=False),  # "grant" | "hold" | "release" | "charge"
    Column("amount_micros", BigInteger, nullable=False),
    Column("uncollected_micros", BigInteger, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Who and what the row is for (copied from the hold onto its release and charge): budgets per key and
    # the usage report's grouping. NULL on grants and on rows written before the budgets revision.
    Column("key_id", String(64), nullable=True),
    Column("vendor", String(40), nullable=True),
    Column("model", String(120), nullable=True),
    UniqueConstraint("job_id", "kind"),
    CheckConstraint("amount_micros >= 0", name="amount_not_negative"),
    CheckConstraint("kind IN ('grant', 'hold', 'release', 'charge')", name="known_kind"),
    Index(None, "project_id", "kind"),
    Index(None, "kind", "created_at"),
    Index(None, "project_id", "created_at"),
)

activations = Table(
    "activations",
    metadata,
    Column("activation_id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("client_hash", String(64), nullable=False),
    Column("project_id", String(40), ForeignKey("projects.project_id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "client_hash", "created_at"),
)

# A project's webhook signing secret (Standard Webhooks ``whsec_...``). Unlike an API key it cannot be a
# hash: we need it to sign, and the project may read it again at GET /v1/account/webhook-secret. So it is
# sealed (accounts/sealing.py: ``sealed:v1:<key id>:<base64>``, ~180 chars at most).
webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("project_id", String(40), ForeignKey("projects.project_id"), primary_key=True),
    Column("secret", String(400), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every webhook delivery attempt, written by the delivery activity (append-only).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("project_id", String(40), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("event", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(300), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "project_id", "job_id"),
)

# Jobs deleted through the API (OpenAI-compatible DELETE). Temporal removes a closed execution
# asynchronously (tens of seconds later), so the API hides these ids from the moment of the DELETE.
deleted_jobs = Table(
    "deleted_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("project_id", String(40), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)

# One row per vendor submit (job, route candidate): written *before* the request goes out and again when
# its answer is known, so a retried submit knows whether an earlier attempt may have created a task
# (``sending``/``unknown``) and never sends blindly again. ``unknown`` rows are the possible orphans
# operators look at (GET /ops/possible-orphans, metric ``infrai_possible_orphan_vendor_tasks``).
vendor_submits = Table(
    "vendor_submits",
    metadata,
    *_vendor_attempt_columns(),
    Column("state", String(16), nullable=False),  # sending | accepted | not_created | unknown
    Column("task", String(4000), nullable=True),  # the VendorTask as JSON, once accepted
    Column("attempts", Integer, nullable=False),
    Column("detail", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # What was asked (the ETA bucket) and when the vendor first accepted it: the start of its vendor time.
    Column("resolution", String(8), nullable=True),
    Column("duration_seconds", Integer, nullable=True),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("state IN ('sending', 'accepted', 'not_created', 'unknown')", name="known_state"),
    Index(None, "state", "updated_at"),
)

# One row per finished vendor task: its measured vendor time (accepted → the first poll that saw it
# finished), in the bucket the ETAs are computed over (accounts/vendor_timings.py).
vendor_timings = Table(
    "vendor_timings",
    metadata,
    *_vendor_attempt_columns(),
    Column("resolution", String(8), nullable=False),
    Column("duration_seconds", Integer, nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("vendor_ms", BigInteger, nullable=False),
    Index("ix_vendor_timings_bucket", "vendor", "model", "resolution", "duration_seconds", "finished_at"),
)

# Requests each API key made in one fixed window of one rate-limit policy (accounts/rate_limits.py): one
# upsert per authenticated call when INFRAI_RATE_LIMIT_STORE=database, so every API replica counts in the
# same row. ``window_start`` is in Unix seconds; a key's rows of earlier windows are deleted as it opens a
# new one, so the table holds about one row per active key and policy.
rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("policy", String(16), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("used", Integer, nullable=False),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; every timestamp we write is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
