"""The UI glue every tab uses: outputs by name, form numbers, the LinePlot reset."""
import gradio as gr
import pandas as pd
import pytest

from ui.common import LinePlotLines, Outputs, number


def test_outputs_by_name_skip_the_rest_and_refuse_unknown_names():
    outputs = Outputs("plot", "status", "files")
    update = outputs(status="running")
    assert update[1] == "running" and update[0] == gr.skip() and update[2] == gr.skip()
    assert outputs(plot=1, status=2, files=3) == (1, 2, 3)
    assert Outputs("status")(status="x") == "x"  # one output: the value itself, as gradio expects
    with pytest.raises(TypeError, match="not an output of this event: stauts"):
        outputs(stauts="typo")
    assert outputs.of({"plot": "P", "status": "S", "files": "F", "other": "O"}) == ["P", "S", "F"]


def test_form_numbers_name_the_field_that_is_wrong():
    assert number(3, "epochs") == 3.0 and number("7", "seed", int) == 7
    assert number(20.0, "width", int) == 20 and isinstance(number(20.0, "width", int), int)
    with pytest.raises(ValueError, match="batch size is empty: type a number"):
        number(None, "batch size", int)
    with pytest.raises(ValueError, match="learning rate must be a number, got 'fast'"):
        number("fast", "learning rate")
    with pytest.raises(ValueError, match="seed must be a whole number, got 1.5"):
        number(1.5, "seed", int)


def test_a_new_line_resets_the_plot_once():
    lines = LinePlotLines()
    frame = lambda *names: pd.DataFrame({"series": list(names)})  # noqa: E731
    assert not lines.new_lines(frame("a"))  # the first data: nothing to reset
    assert not lines.new_lines(frame("a"))
    assert lines.new_lines(frame("a", "b"))  # a line appears
    assert not lines.new_lines(frame("a", "b")) and not lines.new_lines(None)


def test_warming_up_makes_what_the_tabs_show_as_they_open(monkeypatch):
    # ui.warmup (started by `python app.py`): the first students find the defaults made.
    import ui.cam_models
    import ui.cam_view
    import ui.gan_generate
    import ui.shapes_tab
    import ui.warmup
    from ui.calculator import trace_key

    for cache in (ui.shapes_tab._shown, ui.cam_view._views, ui.gan_generate._drawn):
        cache.clear()
    seconds = ui.warmup.warm_up()
    model = ui.shapes_tab.default_model()
    assert trace_key(model, {name: value for name, value in ui.shapes_tab.model_knobs(model).items()
                             if name in ui.shapes_tab.KNOBS}, ui.shapes_tab.natural_input(model)) in ui.shapes_tab._shown
    assert len(ui.cam_view._views) == 1 and len(ui.gan_generate._drawn) == 2  # the first example; a grid, a walk
    assert seconds > 0
    monkeypatch.setenv("CNNZOO_WARM_UP", "0")
    assert ui.warmup.start() is None
