"""The one settings class. Every field is an ``INFRAI_*`` environment variable listed in the README."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.models import JobTimings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFRAI_", extra="ignore")

    # Where the embedded stack keeps its state (Temporal SQLite file, accounts DB, local media).
    data_dir: Path = Path(".infrai")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "infrai-video"
    temporal_ui_port: int = 8233
    temporal_ui_url: str = "http://127.0.0.1:8233"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_tls_ca_path: Path | None = None
    temporal_rpc_timeout_seconds: float = 5.0

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 64 * 1024
    max_prompt_chars: int = 4000
    max_duration_seconds: int = 60
    status_query_timeout_seconds: float = 2.0

    # Accounts
    database_url: str | None = None
    dev_api_key: SecretStr | None = None

    # Storage
    storage_backend: Literal["local", "s3"] = "local"
    storage_local_dir: Path | None = None
    s3_bucket: str = "infrai-media"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_part_size_mb: int = 16
    media_url_ttl_seconds: int = 3600
    media_signing_secret: SecretStr | None = None

    # Reference images and other URLs we fetch on a customer's behalf
    allow_private_urls: bool = False
    reference_image_max_bytes: int = 20 * 1024 * 1024

    # Local vendor (the embedded renderer behind a vendor-style HTTP API)
    local_base_url: str = "http://127.0.0.1:8300"
    local_vendor_host: str = "127.0.0.1"
    local_vendor_port: int = 8300
    local_vendor_min_seconds: float = 0.0
    local_vendor_workers: int = 1

    # Worker
    worker_max_concurrent_activities: int = 2000
    worker_max_concurrent_workflow_tasks: int = 100
    worker_graceful_shutdown_seconds: float = 20.0
    worker_max_heartbeat_throttle_seconds: float = 5.0
    poll_initial_interval_seconds: float = 1.0
    poll_max_interval_seconds: float = 15.0

    # Job timing, frozen into each workflow's input at start
    submit_timeout_seconds: float = 60.0
    poll_heartbeat_timeout_seconds: float = 60.0
    poll_timeout_seconds: float = 3 * 3600.0
    rehost_timeout_seconds: float = 1800.0
    rehost_heartbeat_timeout_seconds: float = 60.0
    cancel_timeout_seconds: float = 30.0


    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'accounts.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return (self.storage_local_dir or self.data_dir / "media").resolve()

    def job_timings(self) -> JobTimings:
        return JobTimings(
            submit_timeout_seconds=self.submit_timeout_seconds,
            poll_heartbeat_timeout_seconds=self.poll_heartbeat_timeout_seconds,
            poll_timeout_seconds=self.poll_timeout_seconds,
            rehost_timeout_seconds=self.rehost_timeout_seconds,
            rehost_heartbeat_timeout_seconds=self.rehost_heartbeat_timeout_seconds,
            cancel_timeout_seconds=self.cancel_timeout_seconds,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
