"""The Inside tab in a real browser: the shipped shapes model's first convolution on opening, a
click on a row of the layer table, a click on a map, its top test images; at a laptop's, a
projector's and a phone's size, with no request beyond this server.

Saves inside-<width>x<height>.png into $CNNZOO_SCREENSHOT_DIR (docs/screenshots) or tmp_path.
"""
from __future__ import annotations

import pytest

TIMEOUT_MS = 30_000  # a cold server on a busy 2-core machine


def open_inside_tab(open_page, app_url, width, height):
    page = open_page(app_url, width=width, height=height)
    page.get_by_role("tab", name="Inside").click(timeout=TIMEOUT_MS)  # five tabs fit even a phone's width
    return page


@pytest.mark.parametrize("width, height", [(1280, 800), (1024, 768), (390, 844)])
def test_inside_tab_layers_maps_and_top_images(open_page, app_url, screenshot_dir, width, height):
    page = open_inside_tab(open_page, app_url, width, height)
    summary = page.locator("#inside-summary")
    summary.get_by_text("stage1.conv1").wait_for(timeout=TIMEOUT_MS)
    assert "32 channels of 32×32" in summary.inner_text()
    page.locator("#inside-maps img").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#inside-maps img").count() == 32
    assert page.locator("#inside-filters img").count() == 1

    # A row of the layer table chooses its layer.
    page.locator("#inside-table").get_by_text("stage2.conv1", exact=True).first.click()
    summary.get_by_text("stage2.conv1").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('#inside-maps img').length === 64", timeout=TIMEOUT_MS)
    assert page.locator("#inside-layer input").input_value() == "stage2.conv1"

    # A click on a map finds the test images its channel likes best.
    first = page.locator("#inside-maps .thumbnail-item").first
    channel = page.locator("#inside-maps .caption-label").first.inner_text().split(":")[0]
    first.click()
    top = page.locator("#inside-top-summary")
    top.get_by_text(f"Channel {channel} of stage2.conv1").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelectorAll('#inside-top-images img').length === 9",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # the pictures finish loading
    page.screenshot(path=str(screenshot_dir / f"inside-{width}x{height}.png"), full_page=True)
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts
