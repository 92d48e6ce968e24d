"""``python -m observability.probe api|worker|localvendor``: the containers' healthcheck.

Reads the same settings as the process it checks, so the probe follows the port wherever it is
configured; exits 0 when the endpoint answers 200, 1 otherwise (with the reason on stderr).

- ``api``: ``/readyz`` (Temporal, the accounts DB and storage reachable), so "healthy" means "serves".
- ``worker``: the activity metrics endpoint (``INFRAI_WORKER_METRICS_PORT``), which answers while the
  worker process runs.
- ``localvendor``: its ``/healthz``.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from core.settings import Settings, get_settings

TIMEOUT_SECONDS = 5.0


def probe_url(target: str, settings: Settings) -> str:
    if target == "api":
        return f"http://127.0.0.1:{settings.api_port}/readyz"
    if target == "worker":
        if not settings.worker_metrics_port:
            raise SystemExit("worker probe needs INFRAI_WORKER_METRICS_PORT (the worker serves nothing else)")
        return f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
    if target == "localvendor":
        return f"http://127.0.0.1:{settings.local_vendor_port}/healthz"
    raise SystemExit(f"usage: python -m observability.probe api|worker|localvendor (not {target!r})")


def probe(url: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (loopback URL)
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as err:
        return False, f"{url}: {err.code} {err.read(500).decode(errors='replace')}"
    except OSError as err:
        return False, f"{url}: {err}"


def main(argv: list[str]) -> int:
    target = argv[1] if len(argv) > 1 else ""
    ok, detail = probe(probe_url(target, get_settings()))
    if not ok:
        print(detail, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
