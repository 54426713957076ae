"""The GAN tab in a real browser: the shipped generator's grid, a walk picked by clicking two
samples, and a short training run. Saves gan-walk.png and gan.png into $CNNZOO_SCREENSHOT_DIR or tmp_path."""
from __future__ import annotations

import os
import re

TIMEOUT_MS = 60_000


def click_sample(page, index: int, side: int = 8, size: int = 32, padding: int = 2, scale: int = 2):
    """Click the middle of sample #index of the grid image, wherever the page has drawn it."""
    image = page.locator("#gan-grid img")
    image.scroll_into_view_if_needed()
    box = image.bounding_box()  # in the viewport's coordinates, where the mouse clicks
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    shrink = min(box["width"] / natural[0], box["height"] / natural[1], 1)  # as gradio maps clicks back
    left = box["x"] + (box["width"] - natural[0] * shrink) / 2
    top = box["y"] + (box["height"] - natural[1] * shrink) / 2
    row, col = divmod(index, side)
    x = (padding + col * (size + padding) + size / 2) * scale
    y = (padding + row * (size + padding) + size / 2) * scale
    page.mouse.click(left + x * shrink, top + y * shrink)


def test_gan_tab_samples_walks_and_trains(page, screenshot_dir):
    page.get_by_role("tab", name="GAN").click()
    # Opening the page draws the shipped generator's grid and its score beside real digits and noise.
    page.locator("#gan-grid img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#gan-about").get_by_text("noise (floor)").wait_for(timeout=TIMEOUT_MS)
    # Two clicks on the grid: the start and the end of a walk, which then appears as strip and GIF.
    click_sample(page, 3)
    page.get_by_text("Now click the end sample").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_label("start sample #").input_value() == "3"
    click_sample(page, 60)
    page.locator("#gan-walk img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#gan-strip img").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_label("end sample #").input_value() == "60"
    page.get_by_text("The walk from sample #3").wait_for(timeout=TIMEOUT_MS)  # no "Walking…" left behind
    assert ".gif" in page.locator("#gan-walk img").get_attribute("src")

    # A short DCGAN run with the tab's defaults but fewer steps: live curves, then the GIF.
    # (docs/screenshots/gan.png: CNNZOO_GAN_E2E_STEPS=600, where all ten digits show.)
    page.screenshot(path=str(screenshot_dir / "gan-walk.png"), full_page=True)
    steps = os.environ.get("CNNZOO_GAN_E2E_STEPS", "150")
    page.get_by_role("tab", name="Train a GAN", exact=True).click()
    page.get_by_label("steps", exact=True).fill(steps)
    page.get_by_label("samples every").fill("25")
    page.get_by_role("button", name="Train", exact=True).click()
    status = page.locator("#gan-status")
    status.get_by_text(re.compile(rf"step \d+ / {steps}")).wait_for(timeout=TIMEOUT_MS)
    status.get_by_text("finished").wait_for(timeout=3 * TIMEOUT_MS)
    page.get_by_text("generator loss").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the last plot and image updates
    page.screenshot(path=str(screenshot_dir / "gan.png"), full_page=True)
    html = page.content()
    for name in ("generator.safetensors", "progress.gif", "metrics.csv"):  # the downloads
        assert name in html, name
    # The trained generator is now the one in use in the other tab: its grid and its card.
    page.get_by_role("tab", name="Generate and walk", exact=True).click()
    page.locator("#gan-about").get_by_text(f"trained {steps} steps").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("tab", name="Train a GAN", exact=True).click()
    # A refused run (width 0) says so on the field and keeps what the page shows (issue #14).
    page.locator("#gan-width input").fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("width must be at least 1, got 0").wait_for(timeout=10_000)
    page.wait_for_timeout(1000)
    assert "finished" in status.inner_text() and page.locator("#gan-grid img").count() == 1
    assert page.locator(".error").filter(has_text="Error").count() == 0  # gradio's red output badges
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts


def step_of(status) -> int:
    return int(re.search(r"step (\d+) / \d+", status.inner_text()).group(1))


def test_a_reload_mid_gan_training_keeps_it_streaming_and_stop_still_stops(page, screenshot_dir):
    """A reload (a closed lid, a Wi-Fi blip) ends the page, not the GAN run: the reloaded page's
    GAN tab shows the same run going on, with its live grid, and its Stop stops it."""
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.get_by_role("tab", name="Train a GAN", exact=True).click()
    page.get_by_label("steps", exact=True).fill("5000")
    page.get_by_label("samples every").fill("25")
    page.get_by_role("button", name="Train", exact=True).click()
    status = page.locator("#gan-status")
    status.get_by_text(re.compile(r"step \d+ / 5000")).wait_for(timeout=TIMEOUT_MS)
    before = step_of(status)
    page.reload(wait_until="load")
    page.get_by_role("tab", name="GAN", exact=True).click()
    page.get_by_role("tab", name="Train a GAN", exact=True).click()
    status = page.locator("#gan-status")
    status.get_by_text(re.compile(r"step \d+ / 5000")).wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => {{ const m = document.querySelector('#gan-status').innerText.match(/step (\\d+) \\//);"
                           f" return m && Number(m[1]) > {before}; }}", timeout=TIMEOUT_MS)  # still training
    page.locator("#gan-live img").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#gan-train-tab input[aria-label=\"steps\"]')?.value === '5000'",
                           timeout=TIMEOUT_MS)  # the form Train was pressed with is back
    assert page.get_by_label("samples every").input_value() == "25"
    page.screenshot(path=str(screenshot_dir / "gan-after-reload.png"), full_page=True)
    page.get_by_role("button", name="Stop", exact=True).click()
    status.get_by_text("stopped").wait_for(timeout=30_000)
