"""The Experiments tab's loss landscape in a real browser: the shipped pair in the model lists, a
small grid computed with its progress, figures, summary and downloads, Stop mid-way, and no
request beyond this server.

Screenshots (experiments-<width>x<height>.png, the whole page, and -view.png, the window) into
$CNNZOO_SCREENSHOT_DIR or tmp_path, at a laptop's (1280×800), a projector's (1024×768) and a
phone's (390×844) size.
"""
from __future__ import annotations

import re

import pytest

import ui.experiments_tab
from cnnzoo.checkpoints import CHECKPOINT_DIR

TIMEOUT_MS = 60_000  # a cold server on a busy 2-core machine, two networks
pytestmark = pytest.mark.skipif(not (CHECKPOINT_DIR / "plain20-digits.safetensors").exists(),
                                reason="the shipped plain20-digits checkpoint is missing")


@pytest.fixture(scope="module")
def url(launch):
    return launch(ui.experiments_tab.build_demo())


def set_slider(page, elem_id: str, value: float):
    """Move a gr.Slider as a hand would: its range input, with the input event it fires."""
    page.locator(f"#{elem_id} input[type=range]").fill(str(value))


@pytest.mark.parametrize("width, height", [(1280, 800), (1024, 768), (390, 844)])
def test_a_small_landscape_of_the_shipped_pair(open_page, url, screenshot_dir, width, height):
    page = open_page(url, width, height)
    page.wait_for_function("() => document.querySelector('#landscape-plain input')?.value.includes('plain20-digits')",
                           timeout=TIMEOUT_MS)
    assert "resnet20-digits" in page.locator("#landscape-residual input").input_value()
    set_slider(page, "landscape-steps", 7)
    page.locator("#landscape-compute").click()
    status = page.locator("#landscape-status")
    status.get_by_text("Done").wait_for(timeout=TIMEOUT_MS)
    assert "2 × 7×7 points" in status.inner_text()
    for plot in ("contours", "surfaces", "line"):
        page.locator(f"#landscape-{plot} img").first.wait_for(timeout=TIMEOUT_MS)
    summary = page.locator("#landscape-summary").inner_text()
    assert "plain20-digits" in summary and "resnet20-digits" in summary and "49 / 49" in summary
    assert page.get_by_text("landscape-7x7-span1-seed0", exact=False).count() >= 1  # the downloads
    page.wait_for_timeout(500)  # the figures finish decoding
    name = f"experiments-{width}x{height}"
    page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    page.locator("#landscape-contours").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"{name}-view.png"))
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts


def points_done(page) -> int:
    found = re.search(r"(\d+) / \d+ points", page.locator("#landscape-status").inner_text())
    return int(found.group(1)) if found else -1


def test_a_reload_mid_way_keeps_it_computing_and_stop_still_stops(open_page, url, screenshot_dir):
    page = open_page(url, 1280, 800)
    page.wait_for_function("() => document.querySelector('#landscape-plain input')?.value.includes('plain20-digits')",
                           timeout=TIMEOUT_MS)
    set_slider(page, "landscape-steps", 51)
    page.locator("#landscape-compute").click()
    status = page.locator("#landscape-status")
    status.get_by_text("Computing plain20-digits").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("() => /[1-9]\\d* \\/ \\d+ points/.test(document.querySelector('#landscape-status').innerText)",
                           timeout=TIMEOUT_MS)
    before = points_done(page)

    page.reload(wait_until="load")  # the page's session ends: gradio fires its unload; the job goes on
    status.get_by_text("Computing plain20-digits").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "([before]) => { const m = document.querySelector('#landscape-status').innerText.match(/(\\d+) \\/ \\d+ points/);"
        " return m && Number(m[1]) > before; }", arg=[before], timeout=TIMEOUT_MS)
    page.locator("#landscape-stop").click()  # the Stop of the reloaded page stops it
    status.get_by_text("Stopped").wait_for(timeout=TIMEOUT_MS)
    page.locator("#landscape-contours img").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)
    page.screenshot(path=str(screenshot_dir / "experiments-stopped.png"), full_page=True)


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_a_tiny_race_of_the_default_models(open_page, url, screenshot_dir, width, height):
    """The four default models, one epoch each at 8×8: live status, both figures, the table.
    Screenshots: race-<width>x<height>.png (the section) and -view.png (the window at the figures)."""
    page = open_page(url, width, height)
    section = page.locator("#race-section")
    section.scroll_into_view_if_needed()
    assert page.locator("#race-models").get_by_text("densenet_bc_40_k12").count() >= 1  # the defaults, chosen
    page.locator("#race-image-size").get_by_label("8", exact=True).check()
    page.locator("#race-budget input").fill("1")
    # Every text the status shows, however briefly (a model of this size trains in under a second).
    page.evaluate("""() => { const status = document.querySelector('#race-status'); window.raceStatuses = [];
        new MutationObserver(() => window.raceStatuses.push(status.innerText))
            .observe(status, {subtree: true, childList: true, characterData: true}); }""")
    page.locator("#race-run").click()
    status = page.locator("#race-status")
    status.get_by_text("Done").wait_for(timeout=4 * TIMEOUT_MS)
    assert "4 models, 1 epoch each, on digits at 8×8" in status.inner_text()
    shown = page.evaluate("() => window.raceStatuses")
    for k in range(1, 5):  # the progress of each model while it trained
        assert any(f"(model {k} of 4)" in text for text in shown), shown
    for plot in ("curves", "scatter"):
        page.locator(f"#race-{plot} img").first.wait_for(timeout=TIMEOUT_MS)
    table = page.locator("#race-table").inner_text()
    assert all(name in table for name in ("simple_cnn", "resnet20", "wide_resnet16_4", "densenet_bc_40_k12"))
    assert "%" in table and "done" in table
    page.wait_for_timeout(500)  # the figures finish decoding
    section.screenshot(path=str(screenshot_dir / f"race-{width}x{height}.png"))
    page.locator("#race-curves").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"race-{width}x{height}-view.png"))
    page.locator("#race-budget-kind").get_by_label("same seconds").check()  # the budget field follows its kind
    page.locator("#race-budget").get_by_text("seconds per model").wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#race-budget input").input_value() == "15"
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts


@pytest.mark.parametrize("width, height", [(1024, 768), (390, 844)])
def test_the_degradation_replay_and_the_layer_responses(open_page, url, screenshot_dir, width, height):
    """The recorded classroom run replayed (the four nets' curves and final numbers without waiting),
    and the layer responses of the shipped pair: what a teacher clicks first. Screenshots:
    degradation-<width>.png and responses-<width>.png (the sections)."""
    page = open_page(url, width, height)
    page.wait_for_function("() => document.querySelector('#landscape-plain input')?.value.includes('plain20-digits')",
                           timeout=TIMEOUT_MS)
    page.locator("#degradation-replay").scroll_into_view_if_needed()
    page.locator("#degradation-speed").get_by_label("256×").check()
    page.locator("#degradation-replay").click()
    page.locator("#degradation-plot img").first.wait_for(timeout=2 * TIMEOUT_MS)
    page.wait_for_function("() => { const s = document.querySelector('#degradation-status').innerText;"
                           " return s.includes('ResNet-56 − ResNet-20') && !s.includes('watch its curves'); }",
                           timeout=2 * TIMEOUT_MS)  # the replay's end: the sentence with both differences
    table = page.locator("#degradation-table").inner_text()
    assert all(name in table for name in ("plain20", "plain56", "resnet20", "resnet56")), table
    page.wait_for_timeout(500)  # the figure finishes decoding
    page.locator("#degradation-section").screenshot(path=str(screenshot_dir / f"degradation-{width}.png"))

    page.locator("#responses-run").scroll_into_view_if_needed()
    page.locator("#responses-run").click()
    page.locator("#responses-plot img").first.wait_for(timeout=TIMEOUT_MS)
    summary = page.locator("#responses-summary").inner_text()
    assert "plain20" in summary and "resnet20" in summary and "smaller" in summary, summary
    page.wait_for_timeout(500)
    page.locator("#responses-section").screenshot(path=str(screenshot_dir / f"responses-{width}.png"))
    # Its three panels keep a readable size: on a phone the figure scrolls sideways in its box,
    # from its left edge (none of it out of reach)
    figure = page.locator("#responses-plot img").first.bounding_box()
    box = page.locator("#responses-plot").bounding_box()
    assert figure["width"] >= 700 and figure["x"] >= box["x"] - 1, (figure, box)
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts
    assert page.console_errors == [], page.console_errors
