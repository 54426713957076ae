"""The Shapes tab in a real browser: what a student sees and clicks.

Saves shapes.png into $CNNZOO_SCREENSHOT_DIR (docs/screenshots for the README) or tmp_path, and
the calculator section at 1280×800, 1024×768 and 390×844 (shapes-calculator-*.png), and the Train
tab's time estimate (train-estimate.png).
"""
from __future__ import annotations

import html

import pytest
import torch

from cnnzoo import create_model, trace
from ui.common import human

TIMEOUT_MS = 30_000  # a cold server on a busy 2-core machine


def expected_totals(model_name: str, **knobs) -> str:
    """The parameter count the totals line should show, computed by the core itself."""
    with torch.device("meta"):
        model = create_model(model_name, **knobs)
    return f"{human(trace(model, (3, 32, 32), device='meta').total_params)} parameters"


def choose_model(page, name: str):
    page.get_by_label("network").click()
    page.get_by_label("network").fill(name)
    page.get_by_role("option", name=name, exact=True).click()


def set_number(page, label: str, value: int):
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def test_shapes_tab_follows_model_and_knobs(page, screenshot_dir):
    # On load: the default model is traced, with no request beyond this server.
    totals = page.locator("#shapes-totals")
    table = page.locator("#shapes-table")
    totals.get_by_text(expected_totals("resnet20")).wait_for(timeout=TIMEOUT_MS)
    assert table.get_by_text("layer1.0.conv1", exact=True).is_visible()
    assert page.get_by_label("A", exact=True).is_visible()  # resnet20 has a shortcut option
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts

    # Another model: its own knobs appear, the others go, the table follows.
    choose_model(page, "densenet")
    totals.get_by_text(expected_totals("densenet")).wait_for(timeout=TIMEOUT_MS)
    assert "densenet" in totals.inner_text()
    assert page.get_by_label("growth rate k").is_visible()
    assert not page.get_by_label("A", exact=True).is_visible()
    table.get_by_text("cat()").first.wait_for(timeout=TIMEOUT_MS)  # dense connectivity shows

    # A knob: growth rate 12 -> 24 roughly quadruples the weights.
    set_number(page, "growth rate k", 24)
    totals.get_by_text(expected_totals("densenet", growth_rate=24)).wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(screenshot_dir / "shapes.png"), full_page=True)

    # A depth the family does not allow: the core's message, and the tab keeps working.
    with pytest.raises(ValueError) as rule:
        create_model("densenet", depth=30)
    set_number(page, "depth", 30)
    page.get_by_text(html.unescape(str(rule.value))[:40]).first.wait_for(timeout=TIMEOUT_MS)
    set_number(page, "depth", 40)
    totals.get_by_text(expected_totals("densenet", depth=40, growth_rate=24)).wait_for(timeout=TIMEOUT_MS)


def test_reduction_calculator_updates(page):
    result = page.get_by_text("with the 1×1 reduction")
    result.wait_for(timeout=TIMEOUT_MS)
    # The Inception post's own example (issue 15): 192·32 + 25·32·32 = 6,144 + 25,600
    assert page.get_by_text("31,744", exact=True).is_visible()
    reduce_to = page.get_by_label("1×1 reduces to")
    reduce_to.fill("16")
    reduce_to.press("Tab")
    page.get_by_text("15,872", exact=True).wait_for(timeout=TIMEOUT_MS)


@pytest.mark.parametrize("width, height", [(1280, 800), (1024, 768), (390, 844)])
def test_calculator_shows_memory_time_and_exports(open_page, app_url, screenshot_dir, width, height):
    """The calculator section at a laptop's, a projector's and a phone's size; screenshots of the
    whole page and of the section (shapes-calculator-<width>x<height>*.png)."""
    page = open_page(app_url, width, height)
    memory = page.locator("#shapes-memory")
    memory.get_by_text("81 × 81 input pixels").wait_for(timeout=TIMEOUT_MS)  # resnet20, traced on load
    memory.get_by_text("per epoch").wait_for(timeout=TIMEOUT_MS)
    calculator = page.locator("#shapes-calculator")
    # (The Dataframe keeps a hidden copy of its cells to size the columns: look at visible ones.)
    calculator.get_by_text("⌊(32 + 2·1 − 3)/1⌋ + 1 = 32").filter(visible=True).first.wait_for(timeout=TIMEOUT_MS)
    assert calculator.get_by_text("3 / 1 / 1").filter(visible=True).count() >= 3

    # The batch size changes the activations, not the weights.
    field = page.locator("#shapes-batch input")
    field.fill("1")
    field.press("Enter")
    memory.get_by_text("backward, 1 × 1.5 MB").wait_for(timeout=TIMEOUT_MS)
    name = f"shapes-calculator-{width}x{height}"
    page.screenshot(path=str(screenshot_dir / f"{name}-page.png"), full_page=True)
    page.locator("#shapes-calculator-section").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / f"{name}.png"))

    page.get_by_role("button", name="Export both tables").click()
    files = page.locator("#shapes-files")
    files.get_by_text(".csv").wait_for(timeout=TIMEOUT_MS)  # the list shows a name's stem and suffix apart
    assert files.get_by_text("resnet20-3x32x32-layers").count() == 3 and files.get_by_text(".tex").is_visible()
    page.screenshot(path=str(screenshot_dir / f"{name}-exported.png"))
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts


def test_train_tab_shows_the_estimate_before_training(page, screenshot_dir):
    page.get_by_role("tab", name="Train", exact=True).click()
    estimate = page.locator("#train-estimate")
    estimate.get_by_text("per epoch").wait_for(timeout=TIMEOUT_MS)
    assert "An estimate" in estimate.inner_text()
    page.get_by_label("dataset", exact=True).click()
    page.get_by_role("option", name="shapes", exact=True).click()
    estimate.get_by_text("of shapes on this machine").wait_for(timeout=TIMEOUT_MS)
    estimate.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "train-estimate.png"))
