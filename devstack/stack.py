"""``python -m devstack up``: Temporal dev server, local vendor, worker and API in the foreground.

State lives in the data folder (``INFRAI_DATA_DIR``, default ``.infrai/``): the Temporal SQLite file, the
accounts DB, local media, the local vendor's tasks, and the development API key, so stopping with Ctrl-C
and starting again resumes every unfinished job.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from core.settings import Settings
from devstack.dev_key import load_or_create_dev_key
from devstack.processes import ManagedProcess, port_in_use, wait_for_port
from devstack.temporal_server import dev_server
from devstack.temporal_setup import ensure_retention, ensure_search_attributes
from workflows.connection import connect


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


class EmbeddedStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.processes: list[ManagedProcess] = []
        self.dev_key = ""
        # With payload encryption on, the Temporal UI decodes through the API's codec endpoint, which needs
        # an operator token: the configured one, or one made up for this run.
        self.codec_token = ""
        if settings.payload_encryption_keys is not None:
            configured = settings.codec_operator_token
            self.codec_token = configured.get_secret_value() if configured else secrets.token_urlsafe(32)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "INFRAI_DATA_DIR": str(self.data_dir),
                "INFRAI_DEV_API_KEY": self.dev_key,
                "INFRAI_TEMPORAL_ADDRESS": self.settings.temporal_address,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.codec_token:
            env["INFRAI_CODEC_OPERATOR_TOKEN"] = self.codec_token
        return env

    def ui_codec_endpoint(self) -> str | None:
        """Where the Temporal UI sends payloads to decode (the token is in the path: the UI sends no
        headers of ours), or None when payloads are not encrypted."""
        if not self.codec_token:
            return None
        return f"http://{self.settings.api_host}:{self.settings.api_port}/codec/{self.codec_token}"

    def _python(self, name: str, module: str) -> ManagedProcess:
        return ManagedProcess(name, [sys.executable, "-m", module], env=self._child_env(), cwd=Path.cwd())

    def _check_ports_free(self) -> None:
        s = self.settings
        wanted = {
            "Temporal": _host_port(s.temporal_address),
            "Temporal UI": ("127.0.0.1", s.temporal_ui_port),
            "API": (s.api_host, s.api_port),
            "local vendor": (s.local_vendor_host, s.local_vendor_port),
        }
        busy = [f"{name} port {port}" for name, (host, port) in wanted.items() if port_in_use(host, port)]
        if busy:
            raise SystemExit(
                "cannot start: " + ", ".join(busy) + " already in use (is another stack running? set "
                "INFRAI_API_PORT / INFRAI_TEMPORAL_ADDRESS / INFRAI_TEMPORAL_UI_PORT / "
                "INFRAI_LOCAL_VENDOR_PORT)"
            )

    def start(self) -> None:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self._check_ports_free()
        self.dev_key = load_or_create_dev_key(self.data_dir)
        host, port = _host_port(s.temporal_address)

        temporal = dev_server(
            self.data_dir / "temporal.db",
            host=host,
            port=port,
            ui_port=s.temporal_ui_port,
            log_path=self.logs / "temporal.log",
            ui_codec_endpoint=self.ui_codec_endpoint(),
        )
        self._launch(temporal, host, port, timeout=60)
        asyncio.run(self._configure_temporal())
        self._launch(self._python("local vendor", "localvendor"), s.local_vendor_host, s.local_vendor_port)
        worker = self._python("worker", "worker")
        worker.start()
        self.processes.append(worker)
        self._launch(self._python("api", "api"), s.api_host, s.api_port)

    def _launch(self, process: ManagedProcess, host: str, port: int, timeout: float = 60) -> None:
        process.start()
        self.processes.append(process)
        wait_for_port(host, port, timeout, process)

    async def _configure_temporal(self) -> None:
        client = await connect(self.settings)
        await ensure_search_attributes(client)
        await ensure_retention(client)

    def stop(self) -> None:
        # Reverse start order: the API stops accepting, the worker hands off its activities, Temporal last.
        for process in reversed(self.processes):
            grace = self.settings.worker_graceful_shutdown_seconds + 5 if process.name == "worker" else 15
            process.stop(timeout=grace, sig=signal.SIGINT if process.name == "temporal" else signal.SIGTERM)

    def banner(self) -> str:
        s = self.settings
        api = f"http://{s.api_host}:{s.api_port}"
        payloads = (
            "encrypted; the Temporal UI decodes them through the API's /codec endpoint"
            if self.codec_token
            else "not encrypted (set INFRAI_PAYLOAD_ENCRYPTION_KEYS to encrypt them)"
        )
        return f"""
Infrai Video is running (Ctrl-C stops everything; run again to resume unfinished jobs)

  API          {api}        (OpenAPI: {api}/docs)
  Playground   {api}/        (paste the dev API key below)
  Temporal UI  http://127.0.0.1:{s.temporal_ui_port}   (Schedules: {s.temporal_task_queue}-housekeeping)
  Operations   {api}/readyz  {api}/metrics  {api}/ops/stuck-jobs
  Data folder  {self.data_dir}   (logs in {self.logs})
  Dev API key  {self.dev_key}
  Payloads     {payloads}

Make a video:
  curl -s -X POST {api}/v1/video/generate \\
    -H "Authorization: Bearer {self.dev_key}" -H "Content-Type: application/json" \\
    -d '{{"prompt": "a timelapse of a city skyline at dusk", "duration_seconds": 5}}'
Then wait for it (up to 60 s per call, no polling loop needed):
  curl -s {api}/v1/video/jobs/<job_id> -H "Prefer: wait=60" -H "Authorization: Bearer {self.dev_key}"
"""

    def supervise(self, stop: threading.Event) -> int:
        """Block until Ctrl-C (0) or until a child dies unexpectedly (1)."""
        while not stop.wait(0.5):
            for process in self.processes:
                if not process.alive():
                    print(f"\n{process.name} exited unexpectedly; stopping the stack", file=sys.stderr)
                    return 1
        return 0


def run(settings: Settings) -> int:
    stack = EmbeddedStack(settings)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    try:
        stack.start()
        print(stack.banner(), flush=True)
        print(f"(started in {time.monotonic() - started:.1f}s)", flush=True)
        return stack.supervise(stop)
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
        print("stopped.", flush=True)
