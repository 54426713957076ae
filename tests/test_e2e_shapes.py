"""The Shapes tab in a real browser: what a student sees and clicks.

Saves shapes.png into $CNNZOO_SCREENSHOT_DIR (docs/screenshots for the README) or tmp_path.
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
    assert page.get_by_text("15,872").is_visible()
    reduce_to = page.get_by_label("1×1 reduces to")
    reduce_to.fill("32")
    reduce_to.press("Tab")
    # 192·32 + 25·32·32 = 6,144 + 25,600
    page.get_by_text("31,744").wait_for(timeout=TIMEOUT_MS)
