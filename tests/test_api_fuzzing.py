"""Schemathesis against the live ``/openapi.json``: no server errors and no response that breaks the schema.

Hooks (tests/schemathesis_hooks.py) put numbers of every length, up to thousands of digits, into the headers
and query strings our code parses: ``Prefer``, ``Last-Event-ID``, ``Idempotency-Key``, the listings' ``limit``
and ``after``, and the media URL's ``exp`` and ``sig``.

The API runs as a real uvicorn process against the session's Temporal dev server, with no worker: the jobs
the fuzzer starts are accepted and then sit in Temporal untouched, so the run exercises every route
(generate, status, cancel, accounts, media) without rendering hundreds of videos. Bounded examples and a
fixed seed keep it reproducible and inside about a minute.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
SEED = 20240611
MAX_EXAMPLES = 25
# Fuzzed in runs of their own (see the budget and batch tests).
BUDGET_PATHS = r"^/v1/account/(budgets|keys/\{key_id\}/budget)$"
BATCH_PATHS = r"^/v1/video/batches"
# A batch's status reads each of its up to 100 items, and here no worker answers their queries (each waits
# out INFRAI_STATUS_QUERY_TIMEOUT_SECONDS): fewer examples keep that run near a minute.
BATCH_MAX_EXAMPLES = 10
# Without a key every route but the public ones (activation, signed media, the schema) answers 401 before it
# reads its input, and the public ones are fuzzed as much in the authenticated run: fewer examples here.
ANONYMOUS_MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def api_only_stack(
    temporal_server: TemporalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    # No worker answers the status query, so don't wait for it long; the jobs never end, so long-polls and
    # event streams (fuzzed job ids can be real: schemathesis follows Location links) end after a second
    # (a long-poll) or a fifth of one (a stream), and a cancel stops waiting for its job to end after a
    # fifth of a second (each waited the default 5 s: 125 of this file's ~190 s went to cancels alone).
    with started_stack(
        temporal_server,
        tmp_path_factory.mktemp("fuzz"),
        ("api",),
        INFRAI_STATUS_QUERY_TIMEOUT_SECONDS="0.2",
        INFRAI_JOB_WAIT_MAX_SECONDS="1",
        INFRAI_JOB_EVENTS_MAX_SECONDS="0.2",
        INFRAI_CANCEL_WAIT_SECONDS="0.2",
    ) as stack:
        yield stack


def _schemathesis(
    stack: Stack,
    tmp_path: Path,
    *headers: str,
    operations: tuple[str, ...] = (),
    max_examples: int = MAX_EXAMPLES,
) -> tuple[int, str]:
    st = Path(sys.executable).with_name("st")
    argv = [str(st), "--config-file", str(CONFIG), "run", f"{stack.api_url}/openapi.json", *operations]
    for header in headers:
        argv += ["--header", header]
    argv += [
        "--checks", "all",
        "--max-examples", str(max_examples),
        "--seed", str(SEED),
        "--workers", "1",
        "--generation-database", "none",
        "--request-timeout", "30",
        "--no-color",
        "--report", "junit",
        "--report-dir", str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env, check=False
    )
    output = done.stdout + done.stderr
    return done.returncode, output


def _cases(output: str) -> int:
    match = re.search(r"(\d+) generated", output)
    assert match, output[-3000:]
    return int(match.group(1))


def test_fuzzing_with_a_valid_key_finds_no_server_error_and_no_schema_violation(
    api_only_stack: Stack, tmp_path: Path
) -> None:
    code, output = _schemathesis(
        api_only_stack,
        tmp_path,
        f"Authorization: Bearer {api_only_stack.dev_key}",
        operations=("--exclude-path-regex", f"({BUDGET_PATHS})|({BATCH_PATHS})"),
    )
    assert "Server error" not in output, output[-6000:]
    assert code == 0, output[-6000:]
    assert _cases(output) >= 100
    print(f"schemathesis (authenticated): {_cases(output)} cases")


def test_fuzzing_the_batch_routes_with_a_valid_key_finds_no_server_error_and_no_schema_violation(
    api_only_stack: Stack, tmp_path: Path
) -> None:
    code, output = _schemathesis(
        api_only_stack,
        tmp_path,
        f"Authorization: Bearer {api_only_stack.dev_key}",
        operations=("--include-path-regex", BATCH_PATHS),
        max_examples=BATCH_MAX_EXAMPLES,
    )
    assert "Server error" not in output, output[-6000:]
    assert code == 0, output[-6000:]
    assert _cases(output) >= 40
    print(f"schemathesis (batches): {_cases(output)} cases")


def test_fuzzing_the_budget_routes_with_a_valid_key_finds_no_server_error_and_no_schema_violation(
    api_only_stack: Stack, tmp_path: Path
) -> None:
    """On a project of their own: a cap the fuzzer sets (concurrency 0, a spend cap of 0) stays, and the
    jobs here never end, so on the development project it would refuse every later generate."""
    key, _ = api_only_stack.new_project()
    code, output = _schemathesis(
        api_only_stack,
        tmp_path,
        f"Authorization: Bearer {key}",
        operations=("--include-path-regex", BUDGET_PATHS),
    )
    assert "Server error" not in output, output[-6000:]
    assert code == 0, output[-6000:]
    assert _cases(output) >= 40
    print(f"schemathesis (budgets): {_cases(output)} cases")


def test_fuzzing_without_credentials_finds_no_server_error_and_no_schema_violation(
    api_only_stack: Stack, tmp_path: Path
) -> None:
    code, output = _schemathesis(api_only_stack, tmp_path, max_examples=ANONYMOUS_MAX_EXAMPLES)
    assert "Server error" not in output, output[-6000:]
    assert code == 0, output[-6000:]
    assert _cases(output) >= 100
    print(f"schemathesis (no credentials): {_cases(output)} cases")
