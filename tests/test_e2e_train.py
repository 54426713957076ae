"""The Train tab in a real browser: click Train with the defaults, watch the curves, Stop.

Saves train-live.png (mid-run), train-done.png and train-recipe-{1024,390}.png (a recipe chosen, at a
laptop's and a phone's width) into $CNNZOO_SCREENSHOT_DIR or tmp_path.
"""
from __future__ import annotations

import re

TIMEOUT_MS = 60_000


def open_train_tab(page):
    page.get_by_role("tab", name="Train", exact=True).click()
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=TIMEOUT_MS)


def train(page, epochs: int):
    """The tab's defaults but `epochs`: press Train, wait until the status counts epochs; the status."""
    open_train_tab(page)
    status = page.locator("#train-status")
    page.get_by_label("epochs", exact=True).fill(str(epochs))
    page.get_by_role("button", name="Train", exact=True).click()
    status.get_by_text(re.compile(rf"epoch \d+\.\d+ / {epochs}")).wait_for(timeout=TIMEOUT_MS)
    return status


def test_train_with_defaults_shows_live_curves_and_a_report(page, screenshot_dir):
    # The defaults, but 6 epochs instead of 15 so the test stays short on a busy machine
    # (benchmarks/time_to_accuracy.py times the full defaults). Live: the status line counts
    # epochs and images/s while the curves grow.
    status = train(page, 6)
    page.get_by_text(re.compile(r"[\d,]+ images/s")).first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # a few more updates, so the screenshot shows a curve
    page.screenshot(path=str(screenshot_dir / "train-live.png"), full_page=True)
    # Done: the final accuracy, the confusion matrix and the downloads.
    status.get_by_text("finished").wait_for(timeout=3 * TIMEOUT_MS)
    accuracy = float(re.search(r"test accuracy \*?\*?([\d.]+)%", status.inner_text().replace("*", "")).group(1))
    assert accuracy >= 90.0, f"6 epochs of the defaults should reach >90% on digits, got {accuracy}%"
    page.locator("#train-confusion img").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshot_dir / "train-done.png"), full_page=True)
    html = page.content()
    for name in ("last.safetensors", "metrics.csv", "cam_timeline.gif"):  # the downloads
        assert name in html, name
    # Both curves of the run are drawn: the legend's row of the run keys its train and test line,
    # beside its final numbers.
    row = legend_row(page, "simple_cnn · digits #1")
    assert {"train", "test"} <= set(row.split()) and f"{accuracy:.2f}%" in row, row
    assert page.requested_hosts <= {"127.0.0.1", "localhost", None}, page.requested_hosts
    # A first run resets no plot (gradio 6.31's LinePlot throws "Cannot read properties of null
    # (reading 'offsetWidth')" from stale ResizeObservers when a drawn plot is set to None).
    assert page.console_errors == [], page.console_errors
    refused_input_keeps_the_page(page, status)


def refused_input_keeps_the_page(page, status):
    """After a finished run, a refused Train (epochs 0) says so on the field and keeps every output
    (issue #14): the status, the curves and the confusion matrix stay, no output turns to "Error"."""
    before = status.inner_text()
    page.get_by_label("epochs", exact=True).fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("epochs must be at least 0.1, got 0").wait_for(timeout=10_000)
    page.wait_for_timeout(1000)
    assert status.inner_text() == before
    assert page.locator("#train-confusion img").count() == 1
    assert "test" in legend_row(page, "simple_cnn · digits #1", timeout=1000)
    assert page.locator(".error").filter(has_text="Error").count() == 0  # gradio's red output badges


def legend_row(page, run: str, timeout: int = TIMEOUT_MS) -> str:
    """The text of the run's row in the plots' legend, a table of final numbers (once it is there)."""
    row = page.locator("#train-legend tr").filter(has_text=run).first
    row.wait_for(timeout=timeout)
    return row.inner_text()


def test_stop_button_stops_the_run(page):
    status = train(page, 200)
    page.get_by_role("button", name="Stop").click()
    status.get_by_text("stopped").wait_for(timeout=10_000)  # at once; then, with the test report, how to go on
    status.get_by_text("Resume").wait_for(timeout=TIMEOUT_MS)


def step_of(status) -> int:
    return int(re.search(r"step (\d+) / \d+", status.inner_text()).group(1))


def test_a_reload_mid_training_keeps_the_run_streaming_and_stop_still_stops(page, screenshot_dir):
    status = train(page, 300)
    before = step_of(status)

    page.reload(wait_until="load")  # the page's session ends: gradio fires its unload
    open_train_tab(page)
    # The same run, still training: its name, a step beyond the one seen before the reload, curves.
    status.get_by_text(re.compile(r"simple_cnn · digits #1 · epoch")).wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "([before]) => { const m = document.querySelector('#train-status').innerText.match(/step (\\d+) \\//);"
        " return m && Number(m[1]) > before; }", arg=[before], timeout=TIMEOUT_MS)
    assert "train" in legend_row(page, "simple_cnn · digits #1")
    page.screenshot(path=str(screenshot_dir / "train-after-reload.png"), full_page=True)

    page.get_by_role("button", name="Stop").click()  # the Stop of the reloaded page stops it
    status.get_by_text("stopped").wait_for(timeout=10_000)
    found = re.search(r"stopped at step (\d+)", status.inner_text())  # said at once, before the report
    stopped_at = int(found.group(1)) if found else None
    status.get_by_text("Resume").wait_for(timeout=TIMEOUT_MS)
    page.get_by_label("resume").wait_for(timeout=TIMEOUT_MS)
    assert stopped_at is None or stopped_at < 300 * 22


def test_choosing_a_recipe_fills_the_form(open_page, app_url, screenshot_dir):
    """The WRN paper's recipe from the list: the form shows its settings and the note its source."""
    for width, height in [(1024, 768), (390, 844)]:
        page = open_page(app_url, width, height)
        open_train_tab(page)
        page.get_by_label("recipe").click()
        page.get_by_role("option", name=re.compile(r"^wrn-40-2-cifar10-paper ·")).click()
        note = page.locator("#train-recipe-note")
        note.get_by_text("Zagoruyko & Komodakis").wait_for(timeout=TIMEOUT_MS)
        assert "./data" in note.inner_text()  # CIFAR-10 must be on disk: said before Train is pressed
        assert page.get_by_label("epochs", exact=True).input_value() == "200"
        assert page.locator("#train-network input").input_value() == "wide_resnet40_2"
        page.get_by_text("optimizer and schedule").click()  # the accordion
        assert page.get_by_label("sgd + Nesterov").is_checked()
        assert page.get_by_label("multistep ×0.2 at 30/60/80%").is_checked()
        assert page.get_by_label("learning rate", exact=True).input_value() == "0.1"
        page.locator("#train-estimate").get_by_text(re.compile("epoch")).first.wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=str(screenshot_dir / f"train-recipe-{width}.png"), full_page=True)
    # The recipe filled the fields from the server: a refused value there still gets its message.
    page.get_by_label("epochs", exact=True).fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("epochs must be at least 0.1, got 0").wait_for(timeout=10_000)


def test_a_recorded_run_replays_and_survives_a_reload(page, screenshot_dir):
    open_train_tab(page)
    page.get_by_text("Replay a recorded run").click()
    page.get_by_label("1×", exact=True).check(timeout=TIMEOUT_MS)  # the recorded pace: the default run took seconds
    status = page.locator("#train-status")
    page.get_by_role("button", name="▶ Replay").click()
    status.get_by_text(re.compile(r"▶ simple_cnn · digits #1 · epoch")).wait_for(timeout=TIMEOUT_MS)
    page.reload(wait_until="load")  # a replay is a job of the browser's session, like a run
    open_train_tab(page)
    status.get_by_text("finished").wait_for(timeout=TIMEOUT_MS)
    assert "98.61%" in status.inner_text()
    assert {"train", "test", "98.61%"} <= set(legend_row(page, "▶ simple_cnn · digits #1").split())  # the legend, uncut
    page.locator("#train-confusion img").wait_for(timeout=TIMEOUT_MS)  # the test report of the shipped weights
    page.screenshot(path=str(screenshot_dir / "train-replay-done.png"), full_page=True)


def test_train_pressed_the_moment_a_run_says_finished_starts_the_next(page):
    """"finished" shows only once Train works again: gradio drops a click while the event that
    streams the run still runs (it did while the test report was drawn, under a "finished" line)."""
    open_train_tab(page)  # one epoch: on a fast CPU it may end before a live "epoch …" line is drawn
    page.get_by_label("epochs", exact=True).fill("1")
    page.get_by_role("button", name="Train", exact=True).click()
    status = page.locator("#train-status")
    status.get_by_text("finished").wait_for(timeout=3 * TIMEOUT_MS)
    page.get_by_role("button", name="Train", exact=True).click()
    status.get_by_text("simple_cnn · digits #2").wait_for(timeout=TIMEOUT_MS)


def test_a_reload_brings_back_the_form_train_was_pressed_with(page):
    """A student's settings survive a reload: the network (with its knobs' controls and values),
    the epochs, the batch size; the run itself streams on (test_a_reload_mid_training_…). A refused
    value still gets its message on the field afterwards."""
    open_train_tab(page)
    page.locator("#train-network input").fill("resnet20")
    page.get_by_role("option", name="resnet20", exact=True).click()
    shortcut_b = page.get_by_role("radio", name="B", exact=True)  # resnet20's shortcut knob
    shortcut_b.check(timeout=TIMEOUT_MS)
    page.get_by_label("epochs", exact=True).fill("0.2")
    batch = page.get_by_role("spinbutton", name="batch size", exact=True)
    batch.fill("16")
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator("#train-status").get_by_text("resnet20 · digits #1").wait_for(timeout=TIMEOUT_MS)
    page.reload(wait_until="load")
    open_train_tab(page)
    page.wait_for_function("() => document.querySelector('#train-network input')?.value === 'resnet20'",
                           timeout=TIMEOUT_MS)
    assert page.get_by_label("epochs", exact=True).input_value() == "0.2"
    assert batch.input_value() == "16"
    shortcut_b.wait_for(timeout=TIMEOUT_MS)
    assert shortcut_b.is_checked()
    page.locator("#train-status").get_by_text("finished").wait_for(timeout=3 * TIMEOUT_MS)
    page.get_by_label("epochs", exact=True).fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("epochs must be at least 0.1, got 0").wait_for(timeout=10_000)
