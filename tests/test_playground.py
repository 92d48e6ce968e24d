"""The playground page in a real headless browser (Debian chromium via Playwright): paste a key, describe a
video, watch it progress over the event stream, and play it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page, expect

from tests.fixtures.stack import Stack

WAIT_MS = 120_000  # generous: the machine is shared and a render takes seconds
# HAVE_CURRENT_DATA or better, with decoded frames: the browser really played our MP4.
VIDEO_READY = (
    "() => { const v = document.querySelector('#player');"
    " return !!v && v.readyState >= 2 && v.videoWidth > 0; }"
)


def _open(browser: Browser, stack: Stack) -> Page:
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    page.set_default_timeout(WAIT_MS)
    page.goto(stack.api_url + "/")
    return page


def test_the_page_is_served_with_a_strict_content_security_policy(live_stack: Stack) -> None:
    response = httpx.get(live_stack.api_url + "/", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert httpx.get(live_stack.api_url + "/playground/app.js", timeout=30).status_code == 200


def test_a_prompt_becomes_a_video_that_plays(browser: Browser, live_stack: Stack, tmp_path: Path) -> None:
    page = _open(browser, live_stack)
    page.fill("#api-key", live_stack.dev_key)
    page.click("#save-key")
    page.fill("#prompt", "a hot air balloon over a canyon")
    page.select_option("#resolution", "720p")
    page.select_option("#aspect", "16:9")
    page.select_option("#prefer", "cheapest")
    page.fill("#duration", "2")
    page.click("#generate")

    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=WAIT_MS)
    page.wait_for_function(VIDEO_READY)
    job_id = page.locator("#job-id").inner_text()
    assert live_stack.job(job_id)["state"] == "succeeded"
    assert int(page.locator("#job-progress").get_attribute("value") or 0) == 100
    expect(page.locator("#recent")).to_contain_text(job_id, timeout=WAIT_MS)

    shot = tmp_path / "player.png"
    page.locator("#player").screenshot(path=str(shot))
    image = Image.open(shot).convert("RGB")
    stats = ImageStat.Stat(image)
    assert image.width > 300 and image.height > 150
    assert max(stats.stddev) > 10, stats.stddev  # a picture, not a blank or single-colour box
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    page.close()


def test_a_trial_can_be_activated_and_a_job_cancelled(browser: Browser, live_stack: Stack) -> None:
    page = _open(browser, live_stack)
    page.click("#activate")
    expect(page.locator("#key-status")).to_contain_text("Trial activated", timeout=WAIT_MS)
    assert page.input_value("#api-key").startswith("ifr_pk_proj_")
    page.fill("#prompt", "a very long journey")
    page.fill("#duration", "30")
    page.click("#generate")
    expect(page.locator("#job-state")).to_have_text("running", timeout=WAIT_MS)
    expect(page.locator("#job-eta")).to_contain_text("about", timeout=WAIT_MS)  # the running job's ETA
    page.click("#cancel")
    expect(page.locator("#job-state")).to_have_text("cancelled", timeout=WAIT_MS)
    expect(page.locator("#job-error")).to_contain_text("cancelled", timeout=WAIT_MS)
    page.close()


def test_a_deadline_is_sent_and_shown(browser: Browser, live_stack: Stack) -> None:
    page = _open(browser, live_stack)
    page.fill("#api-key", live_stack.dev_key)
    page.click("#save-key")
    page.fill("#prompt", "a kite with a deadline")
    page.fill("#duration", "1")
    page.fill("#deadline", "3600")
    page.click("#generate")
    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=WAIT_MS)
    job = live_stack.job(page.locator("#job-id").inner_text())
    assert job["deadline_at"] is not None
    expect(page.locator("#job-deadline")).not_to_have_text("\u2013")  # the placeholder dash


def test_the_model_choices_are_the_available_models_that_are_not_retired(
    browser: Browser, live_stack: Stack
) -> None:
    listing = httpx.get(live_stack.api_url + "/v1/video/models", timeout=30).json()["data"]
    offered = [m["id"] for m in listing if m["available"] and m["lifecycle"] != "retired"]
    page = _open(browser, live_stack)
    expect(page.locator("#model option")).to_have_count(1 + len(offered), timeout=WAIT_MS)
    values = page.eval_on_selector_all("#model option", "options => options.map(o => o.value)")
    assert values == ["", *offered]
    page.close()


def _batch(page: Page, live_stack: Stack) -> dict[str, Any]:
    batch_id = page.locator("#batch-id").inner_text()
    with live_stack.client() as client:
        batch: dict[str, Any] = client.get(f"/v1/video/batches/{batch_id}").json()
    return batch


def test_a_batch_of_variations_runs_to_the_end(browser: Browser, live_stack: Stack) -> None:
    page = _open(browser, live_stack)
    page.fill("#api-key", live_stack.dev_key)
    page.click("#save-key")
    page.fill("#duration", "1")
    page.fill("#batch-prompts", "a paper boat on a pond")
    page.fill("#batch-variations", "2")
    page.click("#start-batch")
    expect(page.locator("#batch-state")).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator("#batch-counts")).to_have_text("2 succeeded")
    expect(page.locator("#batch-items li")).to_have_count(2)
    batch = _batch(page, live_stack)
    assert batch["counts"]["succeeded"] == 2 and [i["index"] for i in batch["items"]] == [0, 1]
    page.close()


def test_a_running_batch_is_cancelled(browser: Browser, live_stack: Stack) -> None:
    page = _open(browser, live_stack)
    page.fill("#api-key", live_stack.dev_key)
    page.click("#save-key")
    page.fill("#duration", "30")
    page.fill("#batch-prompts", "a long journey by sea\na long journey by land")
    page.click("#start-batch")
    expect(page.locator("#batch-state")).to_have_text("running", timeout=WAIT_MS)
    page.click("#cancel-batch")
    expect(page.locator("#batch-state")).to_have_text("completed", timeout=WAIT_MS)
    expect(page.locator("#batch-counts")).to_have_text("2 cancelled")
    assert {item["state"] for item in _batch(page, live_stack)["items"]} == {"cancelled"}
    page.close()
