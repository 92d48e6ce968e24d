"""The one settings class. Every field is an ``INFRAI_*`` environment variable listed in the README."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.job_timings import JobTimings

# The shortest operator token or signing secret we accept: 32 characters of token_urlsafe are 192 bits.
MIN_SECRET_CHARS = 32


class Settings(BaseSettings, JobTimings):
    """Every setting but the job timings, which are ``JobTimings``'s fields (core/job_timings.py): inherited,
    so each is declared once and read from ``INFRAI_<NAME>`` like the rest."""

    # hide_input_in_errors: a refused secret (too short, say) must not be echoed into a start-up traceback.
    model_config = SettingsConfigDict(env_prefix="INFRAI_", extra="ignore", hide_input_in_errors=True)

    # Where the embedded stack keeps its state (Temporal SQLite file, accounts DB, local media).
    data_dir: Path = Path(".infrai")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "infrai-video"
    temporal_ui_port: int = 8233
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_tls_ca_path: Path | None = None
    # Payload encryption (workflows/encryption.py): "id:base64key[,id:base64key...]", the first encrypts,
    # all decrypt. Unset: payloads are stored as plain JSON. Never logged (SecretStr).
    payload_encryption_keys: SecretStr | None = None
    # The codec endpoint (/codec) lets an operator holding this token decode payloads in the Temporal UI
    # or CLI; unset, the endpoint is off. CORS admits the UI origins (default: the embedded Temporal UI's).
    codec_operator_token: SecretStr | None = None
    codec_cors_origins: str = ""
    # Deploys (docs/operations/deploys.md): the image's build id (set at build time) is reported on every
    # workflow task, so history and `BuildIds` queries show which build ran a job. Worker Deployment
    # Versioning is opt-in: on, this worker is version <deployment name>.<build id> and takes jobs only
    # once an operator makes that version current (`temporal worker deployment set-current-version`).
    build_id: str = "dev"
    deployment_name: str = "infrai-video"
    worker_versioning: bool = False

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 10 * 1024 * 1024
    status_query_timeout_seconds: float = 2.0
    # How long POST .../cancel waits for the job to end, so it can answer how it ended (a task the vendor
    # had already finished is delivered: ok false, succeeded); a job still ending answers ok true, running.
    cancel_wait_seconds: float = 5.0
    # Every other API call to Temporal (start, describe, cancel): past it the API answers 503, not a hang.
    temporal_rpc_timeout_seconds: float = 10.0

    # Housekeeping (workflows/housekeeping.py): a Temporal Schedule, created or updated by the worker at
    # start, runs it once per cluster every interval (0: the worker leaves the schedule alone). A round
    # releases holds older than ``hold_reconcile_after`` whose job never started (the API died between
    # hold and start) or ended without settling; deletes the media of finished jobs older than the
    # retention (days, 0: kept for good): videos with their thumbnails, and reference images apart (they
    # are customer uploads, needed only until the vendor fetched them); and reports jobs whose workflow
    # task keeps failing, terminating them after ``stuck_job_terminate_after_hours`` (0: never) so their
    # holds are released.
    housekeeping_interval_seconds: float = 300.0
    hold_reconcile_after_seconds: float = 600.0
    media_retention_days: float = Field(default=0.0, ge=0)
    reference_image_retention_days: float = Field(default=0.0, ge=0)
    stuck_job_terminate_after_hours: float = Field(default=72.0, ge=0)

    # Accounts
    database_url: str | None = None
    dev_api_key: SecretStr | None = None
    # Credits a new anonymous project starts with, and the development project of the embedded launcher.
    trial_credits_usd: Decimal = Decimal("5.00")
    dev_credits_usd: Decimal = Decimal("100.00")
    # Anonymous activations per client address (IPv4 address, IPv6 /64) in a sliding hour, and from all
    # addresses together (a bound on trial credits given away per hour); 0 turns either limit off.
    activate_rate_limit_per_hour: int = 5
    activate_global_limit_per_hour: int = 100
    # How long a verified API key is trusted in-process before the next DB lookup. Revocation through the
    # same process is immediate; other processes see it within this many seconds.
    api_key_cache_seconds: float = 30.0
    # Per-API-key request limits (docs/api.md, "Rate limits"): every authenticated call counts against
    # rate_limit_requests, and calls that create jobs (generate, POST /v1/videos) also against
    # rate_limit_job_creations, each per fixed window of rate_limit_window_seconds; 0 turns one off. The
    # defaults are Replicate's (3,000 calls and 600 predictions a minute). "database" counts in the accounts
    # DB, so the limit holds across API replicas (one upsert per call); "memory" counts in each API process
    # (no DB work, but each replica allows the whole limit).
    rate_limit_requests: int = Field(default=3000, ge=0)
    rate_limit_job_creations: int = Field(default=600, ge=0)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_store: Literal["database", "memory"] = "database"
    # Keys sealing the secrets the accounts DB must give back (webhook signing secrets), in the format of
    # payload_encryption_keys; the first seals, all open. Unset: a key generated into the data folder,
    # which serves only processes sharing that folder (accounts/sealing.py). Never logged (SecretStr).
    accounts_encryption_keys: SecretStr | None = None
    # Retry-After the API sends with 503 while the accounts DB is unreachable.
    accounts_retry_after_seconds: int = 5
    database_connect_timeout_seconds: float = 5.0
    database_pool_size: int = 10

    # Storage
    storage_backend: Literal["local", "s3"] = "local"
    storage_local_dir: Path | None = None
    s3_bucket: str = "infrai-media"
    s3_endpoint_url: str | None = None
    # Where clients outside our network reach S3, when that differs from s3_endpoint_url (e.g. MinIO as
    # http://minio:9000 inside compose): presigned URLs are signed for this host.
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    # 8 MiB parts, three uploading at once: as fast as 16 MiB x 2 into S3 and a third of the memory
    # (bench rehost); 10,000 parts still allow an 80 GB object.
    s3_part_size_mb: int = 8
    media_url_ttl_seconds: int = 3600
    media_signing_secret: SecretStr | None = None

    # Reference images and other URLs we fetch on a customer's behalf (core/url_safety.py). The allowlist
    # is comma-separated host:port pairs that may resolve to private addresses (an internal mirror, tests);
    # allow_private_urls lifts the private-address rule everywhere (development only).
    allow_private_urls: bool = False
    url_allowlist: str = ""
    reference_image_max_bytes: int = 20 * 1024 * 1024

    # Local vendor (the embedded renderer behind a vendor-style HTTP API)
    local_base_url: str = "http://127.0.0.1:8300"
    local_vendor_host: str = "127.0.0.1"
    local_vendor_port: int = 8300
    local_vendor_min_seconds: float = 0.0
    local_vendor_workers: int = 1

    # Worker: which task queues this process serves ("workflows" = the workflow plus submit, cancel and
    # settle; "poll"; "rehost"), so each kind scales on its own; "all" serves every queue.
    worker_roles: str = "all"
    worker_max_concurrent_activities: int = 2000
    worker_max_concurrent_rehosts: int = 8
    # Submit, vendor-cancel and settle slots of the "workflows" role (short calls; many jobs at once).
    worker_max_concurrent_job_activities: int = 200
    worker_max_concurrent_workflow_tasks: int = 100
    # Workflows kept in memory between their tasks (the SDK's default is 1000). An evicted job is replayed
    # from its few dozen events when it next has work; a job waiting on its vendor has none for minutes.
    worker_max_cached_workflows: int = 1000
    # Long polls each worker keeps open on its task queues; autoscaling lets the server's feedback pick
    # between 1 and these maxima instead (worth it on busy clusters: fewer idle polls, faster pickup).
    worker_workflow_task_pollers: int = 5
    worker_activity_task_pollers: int = 5
    worker_poller_autoscaling: bool = False
    # On SIGTERM in-flight activities get this long: enough for a whole submit (submit_timeout_seconds), so
    # a deploy never cuts one off mid-request (the submit journal would then fail the job rather than risk
    # a second vendor task). Polls hand off at once; a rehost cut off restarts on another worker.
    worker_graceful_shutdown_seconds: float = 70.0
    worker_max_heartbeat_throttle_seconds: float = 5.0

    # Observability. Logs: human-readable text for the embedded stack, one JSON object per line in
    # production. Metrics: the API serves /metrics on its own port; the worker serves its activity metrics
    # and the Temporal SDK's metrics on two ports of their own (0 turns each off, the embedded default, so
    # several workers on one machine never fight over a port). Traces: the standard OTEL_* variables.
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 0
    temporal_metrics_port: int = 0
    # "otlp" (OTLP/HTTP, configured by OTEL_EXPORTER_OTLP_*), "console", or unset/"none": no tracing.
    otel_traces_exporter: str = Field("none", validation_alias="OTEL_TRACES_EXPORTER")
    otel_service_name: str | None = Field(None, validation_alias="OTEL_SERVICE_NAME")

    # How often the API's one shared watcher per job reads its state for `Prefer: wait` and event streams.
    job_watch_interval_seconds: float = 1.0
    # The longest `Prefer: wait=N` honoured, and how long one event stream stays open before the server
    # ends it (the client reconnects with Last-Event-ID and resumes; proxies drop idle streams anyway).
    job_wait_max_seconds: int = 60
    job_events_max_seconds: float = 600.0

    # Honest ETAs (jobs/etas.py): a (vendor, model, resolution, duration) bucket's p50/p90 come from its
    # most recent `eta_window_samples` measured vendor times once it has `eta_min_samples` of them (the
    # catalog's typical latency until then); the API reads them at most every `eta_cache_seconds`.
    eta_min_samples: int = Field(default=5, ge=1)
    eta_window_samples: int = Field(default=100, ge=1)
    eta_cache_seconds: float = Field(default=30.0, ge=0)
    # The date model lifecycles (catalog deprecated_on / retired_on) are judged by; unset: today (UTC).
    # For rehearsing a retirement before its date.
    model_lifecycle_date: date | None = None

    # Vendors. Keys come from each vendor SDK's own environment variable (never logged: SecretStr); base
    # URLs from INFRAI_<VENDOR>_BASE_URL so an adapter can be pointed at an emulator or a proxy.
    # python-genai lets GOOGLE_API_KEY win when both are set; AliasChoices takes the first present.
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("GOOGLE_API_KEY", "GEMINI_API_KEY")
    )
    google_base_url: str = "https://generativelanguage.googleapis.com/v1beta/"
    runwayml_api_secret: SecretStr | None = Field(None, validation_alias="RUNWAYML_API_SECRET")
    runway_base_url: str = "https://api.dev.runwayml.com"
    lumaai_api_key: SecretStr | None = Field(None, validation_alias="LUMAAI_API_KEY")
    luma_base_url: str = "https://api.lumalabs.ai/dream-machine/v1"
    # Ray 3.x is served by Luma's newer Agents API (its SDK reads LUMA_AGENTS_API_KEY); without that key
    # the Dream Machine key is tried there too (whether one key serves both is unconfirmed).
    luma_agents_api_key: SecretStr | None = Field(None, validation_alias="LUMA_AGENTS_API_KEY")
    luma_agents_base_url: str = "https://agents.lumalabs.ai/v1"
    replicate_api_token: SecretStr | None = Field(None, validation_alias="REPLICATE_API_TOKEN")
    replicate_base_url: str = "https://api.replicate.com"
    fal_key: SecretStr | None = Field(None, validation_alias="FAL_KEY")
    fal_base_url: str = "https://queue.fal.run"
    minimax_api_key: SecretStr | None = Field(None, validation_alias="MINIMAX_API_KEY")
    minimax_base_url: str = "https://api.minimax.io"
    kling_access_key: SecretStr | None = Field(None, validation_alias="KLING_ACCESS_KEY")
    kling_secret_key: SecretStr | None = Field(None, validation_alias="KLING_SECRET_KEY")
    kling_base_url: str = "https://api-singapore.klingai.com"
    # One HTTP call to a vendor (submit, one poll, cancel); a long generation is many short calls.
    vendor_connect_timeout_seconds: float = 10.0
    vendor_request_timeout_seconds: float = 60.0
    # Fetching a customer's reference image for vendors that want bytes (Veo); size cap is above.
    reference_image_fetch_timeout_seconds: float = 20.0

    @field_validator("url_allowlist")
    @classmethod
    def _allowlist_is_host_port_pairs(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            host, sep, port = item.rpartition(":")
            if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
                raise ValueError(f"INFRAI_URL_ALLOWLIST entries are host:port, not {item!r}")
        return value

    @field_validator("codec_operator_token", "media_signing_secret")
    @classmethod
    def _secret_is_long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Set but empty (``INFRAI_X=``) or short is a mistake, not "off": a short HMAC secret or bearer
        # token can be guessed, so refuse to start rather than run with it. Unset (None) keeps its meaning.
        if value is not None and len(value.get_secret_value().strip()) < MIN_SECRET_CHARS:
            name = f"INFRAI_{(info.field_name or '').upper()}"
            raise ValueError(
                f"{name} must be at least {MIN_SECRET_CHARS} characters when set (it is empty or shorter); "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))', "
                "or unset it"
            )
        return value

    @property
    def resolved_codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins.strip():
            return [origin.strip() for origin in self.codec_cors_origins.split(",") if origin.strip()]
        port = self.temporal_ui_port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'accounts.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_local_dir or self.data_dir / "media").resolve()

    def job_timings(self) -> JobTimings:
        return JobTimings.model_validate({name: getattr(self, name) for name in JobTimings.model_fields})


def setting_env_names() -> list[str]:
    """Every environment variable ``Settings`` reads, in field order (vendor keys under their own names)."""
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names += [str(choice) for choice in alias.choices]
        elif isinstance(alias, str):
            names.append(alias)
        else:
            names.append(f"INFRAI_{name.upper()}")
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
