"""Run an ASGI app on uvicorn in a background thread on a free loopback port (emulators, small test apps)."""

from __future__ import annotations

import threading
from typing import Any, Self

import httpx
import uvicorn

from tests.fixtures.ports import free_port, wait_for_http


class AppServer:
    """A real HTTP server on 127.0.0.1 for the duration of a test session."""

    def __init__(self, app: Any, *, ready_path: str = "/_stats") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            # Hanging scenarios keep requests open; do not let them hold up the end of the session.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"app-server-{self.port}", daemon=True)
        self._ready_path = ready_path

    def start(self) -> Self:
        self._thread.start()
        wait_for_http(self.url + self._ready_path)
        return self

    def request_stop(self) -> None:
        self._server.should_exit = True

    def stop(self) -> None:
        self.request_stop()
        self._thread.join(timeout=10)


class EmulatorServer(AppServer):
    """An emulator plus the calls a test uses to steer it (synchronous: the server has its own loop)."""

    def __init__(self, vendor: str, app: Any, *, base_path: str = "") -> None:
        super().__init__(app)
        self.vendor = vendor
        self.base_url = self.url + base_path  # what the adapter is pointed at (INFRAI_<VENDOR>_BASE_URL)

    def configure(self, **scenario: Any) -> None:
        httpx.post(self.url + "/_control", json=scenario, timeout=5).raise_for_status()

    def reset(self) -> None:
        httpx.post(self.url + "/_reset", timeout=5).raise_for_status()

    def stats(self) -> dict[str, int]:
        response = httpx.get(self.url + "/_stats", timeout=5)
        response.raise_for_status()
        stats: dict[str, int] = response.json()
        return stats

    def submission_times(self) -> list[float]:
        response = httpx.get(self.url + "/_submissions", timeout=5)
        response.raise_for_status()
        times: list[float] = response.json()
        return times

    def last_submit(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/_last_submit", timeout=5)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def steer(self, marker: str, **scenario: Any) -> None:
        """Answer every request about the job whose prompt carries ``[[marker]]`` from ``scenario``."""
        body = {"marker": marker, "scenario": scenario}
        httpx.post(self.url + "/_steer", json=body, timeout=5).raise_for_status()

    def release(self, marker: str | None = None) -> None:
        """Let the held requests of ``marker``'s job (every job's, without one) go on, now and from now on."""
        httpx.post(self.url + "/_release", json={"marker": marker}, timeout=5).raise_for_status()

    def steering(self) -> dict[str, dict[str, Any]]:
        """Per marker: creates that arrived, requests held open now, bytes downloaded, and its tasks."""
        response = httpx.get(self.url + "/_steering", timeout=5)
        response.raise_for_status()
        report: dict[str, dict[str, Any]] = response.json()
        return report

    @property
    def reference_image_url(self) -> str:
        return self.url + "/_assets/reference.png"
