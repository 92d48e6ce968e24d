"""The embedded Temporal UI tells an operator what a job is: its workflow page, loaded in a real headless
browser (Debian chromium), shows the summary the API set when it started the job, and never the prompt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from devstack.processes import wait_for_port
from devstack.temporal_server import dev_server
from tests.fixtures.ports import free_port, wait_for_http
from tests.fixtures.stack import Stack, started_stack
from tests.fixtures.temporal import TemporalServer, configure_namespace

WAIT_MS = 120_000  # the UI is a single-page app on a shared machine: generous
PROMPT = "a secret lighthouse keeper's diary, page forty-two"


@pytest.fixture(scope="module")
def ui_temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TemporalServer, str]]:
    """A dev server of its own with its UI on (the session's runs headless)."""
    folder = tmp_path_factory.mktemp("temporal-ui")
    port, ui_port = free_port(), free_port()
    process = dev_server(
        folder / "temporal.db", host="127.0.0.1", port=port, ui_port=ui_port, log_path=folder / "t.log"
    ).start()
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, configure_namespace(f"127.0.0.1:{port}")).result()
        ui_url = f"http://127.0.0.1:{ui_port}"
        wait_for_http(ui_url + "/")
        server = TemporalServer(f"127.0.0.1:{port}", folder / "temporal.db", process, folder / "t.log")
        yield server, ui_url
    finally:
        process.stop(timeout=10)


@pytest.fixture(scope="module")
def ui_stack(
    ui_temporal: tuple[TemporalServer, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with started_stack(ui_temporal[0], tmp_path_factory.mktemp("ui-stack")) as running:
        yield running


def _project_of(stack: Stack, job_id: str) -> str:
    media = stack.data_dir / "media" / "videos"
    [project_dir] = [path.parent.name for path in media.glob(f"*/{job_id}")]
    return project_dir


def test_a_jobs_workflow_page_shows_its_summary_and_never_its_prompt(
    browser: Browser, ui_temporal: tuple[TemporalServer, str], ui_stack: Stack, tmp_path: Path
) -> None:
    response = ui_stack.generate(prompt=PROMPT, duration_seconds=2, resolution="720p", aspect="16:9")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    ui_stack.wait_final(job_id)

    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{ui_temporal[1]}/namespaces/default/workflows/{job_id}")
    page.get_by_role("link", name="User Metadata").or_(page.get_by_text("User Metadata")).first.click()

    # vendor/model · duration resolution aspect · project (observability.temporal_ui.job_summary)
    summary = f"local/local-preview · 2s 720p 16:9 · {_project_of(ui_stack, job_id)}"
    # The UI renders summary and details (Markdown) each in a sandboxed frame, in that order.
    frames = page.frame_locator("iframe")
    expect(frames.nth(0).get_by_text(summary, exact=True)).to_be_visible(timeout=WAIT_MS)
    details = frames.nth(1).locator("body")
    expect(details).to_contain_text("local/local-preview (est. $0", timeout=WAIT_MS)
    expect(details).not_to_contain_text("**")  # rendered, not shown as Markdown source
    page.screenshot(path=str(tmp_path / "workflow-page.png"), full_page=True)
    for frame in page.frames:
        assert "lighthouse" not in frame.content()
    page.close()
