"""Connecting to Temporal the same way from the API, the worker, the launcher and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import KeepAliveConfig, RetryConfig, TLSConfig

from core.settings import Settings
from observability.tracing import temporal_interceptors
from workflows.encryption import with_encryption


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models in and out of Temporal payloads, encrypted when keys are configured."""
    return with_encryption(pydantic_data_converter, settings)


def _tls(settings: Settings) -> TLSConfig | bool:
    if not (settings.temporal_tls or settings.temporal_tls_cert_path or settings.temporal_api_key):
        return False
    if settings.temporal_tls_cert_path is None:
        return True
    return TLSConfig(
        client_cert=settings.temporal_tls_cert_path.read_bytes(),
        client_private_key=settings.temporal_tls_key_path.read_bytes()
        if settings.temporal_tls_key_path
        else None,
        server_root_ca_cert=settings.temporal_tls_ca_path.read_bytes()
        if settings.temporal_tls_ca_path
        else None,
    )


async def connect(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """A client for ``settings``; ``lazy`` defers the connection to the first call (the API starts even
    when Temporal is down and answers 503 until it is back). ``runtime`` carries the SDK's telemetry (the
    worker's Prometheus endpoint). With tracing on, the client and the workers built on it propagate
    OpenTelemetry context through Temporal headers."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key,
        tls=_tls(settings),
        data_converter=data_converter(settings),
        lazy=lazy,
        runtime=runtime,
        interceptors=temporal_interceptors(settings),
        retry_config=RetryConfig(max_retries=3, initial_interval_millis=50, max_interval_millis=1000),
        keep_alive_config=KeepAliveConfig(interval_millis=15_000, timeout_millis=10_000),
        rpc_metadata={},
    )
