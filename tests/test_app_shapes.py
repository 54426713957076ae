"""The Shapes tab through a real server and gradio_client, as a script or a class would use it."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client.exceptions import AppError, ValidationError

from cnnzoo import list_models

# A refused input: ValidationError where the event has a validator (gradio_client runs it first),
# AppError from the handler itself.
REFUSED = (AppError, ValidationError)


def numbers(totals: str) -> dict[str, int]:
    """The exact counts in the totals text: '... (269,722) ... (40,551,040 multiply-...'."""
    params, macs = re.findall(r"\(([\d,]+)", totals)[:2]
    return {"params": int(params.replace(",", "")), "macs": int(macs.replace(",", ""))}


def call_trace(client, model_name, **knobs):
    table, totals, plot = client.predict(model_name=model_name, **knobs, api_name="/trace")
    return table, totals, plot


def test_api_names_survive_rendering_into_the_app(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/trace", "/select_model", "/reduction"} <= set(api)
    trace_params = [p["parameter_name"] for p in api["/trace"]["parameters"]]
    assert trace_params[:4] == ["model_name", "input_channels", "input_height", "input_width"]
    assert {"depth", "widen_factor", "growth_rate", "dropout", "shortcut", "pool"} <= set(trace_params)


def test_resnet20_defaults(client):
    table, totals, plot = call_trace(client, "resnet20")
    assert numbers(totals)["params"] == 269_722  # the paper's "0.27M"
    assert "0.27 M parameters" in totals and "40.6 M MACs" in totals
    assert table["headers"] == ["#", "layer", "output (C × H × W)", "params", "MACs", "type"]
    rows = table["data"]
    assert len(rows) == 61  # 19 convs + BN + ReLU ..., the GAP step and the classifier
    assert "Identity" not in {row[5] for row in rows}  # the stem's placeholder max-pool is no step
    assert [rows[0][i] for i in (1, 2, 5)] == ["conv1", "16 × 32 × 32", "Conv2d"]
    assert [rows[-1][i] for i in (1, 2, 5)] == ["head.fc", "10", "Linear"]
    assert sum(row[3] for row in rows) == 269_722
    assert "last feature map **64 × 8 × 8**" in totals
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/png;base64,")


def test_knobs_change_the_network(client):
    _, resnet56, _ = call_trace(client, "resnet_cifar", depth=56)
    assert numbers(resnet56)["params"] == pytest.approx(0.85e6, rel=0.01)

    _, option_a, _ = call_trace(client, "resnet20", shortcut="A")
    _, option_b, _ = call_trace(client, "resnet20", shortcut="B")
    assert numbers(option_b)["params"] > numbers(option_a)["params"]  # B adds 1×1 projections

    _, wrn, _ = call_trace(client, "wide_resnet", depth=16, widen_factor=4)
    assert numbers(wrn)["params"] == pytest.approx(2.7e6, rel=0.02)  # WRN-16-4

    _, gmp, _ = call_trace(client, "resnet20", pool="max")
    assert numbers(gmp) == numbers(option_a)  # GAP vs GMP: same weights, same MACs

    # Input size: twice the side, four times the MACs, same parameters.
    _, big, _ = call_trace(client, "simple_cnn", input_height=64, input_width=64, width=16)
    _, small, _ = call_trace(client, "simple_cnn", input_height=32, input_width=32, width=16)
    assert numbers(big)["params"] == numbers(small)["params"]
    assert numbers(big)["macs"] == pytest.approx(4 * numbers(small)["macs"], rel=0.01)

    table, totals, _ = call_trace(client, "simple_cnn", width=16, downsample=1)
    assert "last feature map **64 × 16 × 16**" in totals


def test_input_channels_build_the_model_to_match(client):
    table, _, _ = call_trace(client, "resnet20", input_channels=1)
    assert table["data"][0][3] == 1 * 16 * 9  # conv1 reads one channel


def test_bad_knob_shows_the_rule_and_the_server_keeps_serving(client):
    with pytest.raises(AppError) as info:
        call_trace(client, "wide_resnet", depth=30)
    assert "6n + 4" in str(info.value) and "got 30" in str(info.value)

    with pytest.raises(REFUSED, match=r"stage3\.pool \(MaxPool2d\).*too small"):
        call_trace(client, "simple_cnn", input_height=2, input_width=2)

    table, totals, _ = call_trace(client, "resnet20")
    assert numbers(totals)["params"] == 269_722


def test_select_model_resets_knobs_and_input(client):
    outputs = client.predict("inception_mnist" if "inception_mnist" in list_models() else "simple_cnn",
                             api_name="/select_model")  # fmt: skip
    *knob_updates, channels, height, width, table, totals, plot = outputs
    if "inception_mnist" in list_models():
        assert (channels, height, width) == (1, 28, 28)
    assert table["data"][-1][2] == "10"

    *knob_updates, channels, height, width, table, totals, plot = client.predict("wide_resnet", api_name="/select_model")
    visible = {i for i, update in enumerate(knob_updates) if update.get("visible")}
    depth = knob_updates[0]
    assert depth["visible"] and depth["value"] == 28
    assert len(visible) < len(knob_updates)  # knobs WRN does not have are hidden
    assert (channels, height, width) == (3, 32, 32)


def test_an_imagenet_network_opens_with_its_1000_classes_and_the_papers_parameters(client):
    *knob_updates, channels, height, width, table, totals, plot = client.predict("resnet50_imagenet",
                                                                                 api_name="/select_model")
    assert (channels, height, width) == (3, 224, 224)
    assert knob_updates[-1]["value"] == 1000  # num_classes, the last knob control
    assert "25.6 M parameters" in totals and table["data"][-1][2] == "1000"


def test_reduction_endpoint(client):
    text = client.predict(192, 32, 5, 16, 28, 28, api_name="/reduction")
    for number in ["153,600", "120,422,400", "3,072", "12,800", "15,872", "12,443,648", "9.7×"]:
        assert number in text


def test_a_class_of_thirty_at_once(client):
    """30 students open the tab with the defaults at the same moment: all get the right answer."""
    start = time.perf_counter()
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda _: call_trace(client, "resnet20")[1], range(30)))
    elapsed = time.perf_counter() - start
    assert all(numbers(totals)["params"] == 269_722 for totals in results)
    assert elapsed < 60, f"30 default traces took {elapsed:.1f} s"


def test_light_request_does_not_wait_behind_a_heavy_one(client):
    heavy = client.submit(model_name="resnet_cifar", depth=1202, api_name="/trace")  # ~3,600 rows
    time.sleep(0.2)  # let it start
    start = time.perf_counter()
    call_trace(client, "simple_cnn")
    light_seconds = time.perf_counter() - start
    assert not heavy.done(), "the heavy trace finished first: make it heavier for this test"
    assert numbers(heavy.result()[1])["params"] == pytest.approx(19.4e6, rel=0.01)  # ResNet-1202
    assert light_seconds < 5


def test_user_errors_escape_html_and_let_bugs_through():
    import gradio as gr

    from ui.common import user_errors

    with pytest.raises(gr.Error) as info:
        with user_errors():
            raise ValueError("depth must be 6n + 4; got <b>30</b>")
    assert info.value.message == "depth must be 6n + 4; got &lt;b&gt;30&lt;/b&gt;"
    with pytest.raises(TypeError):  # a bug is not dressed up as a user error
        with user_errors():
            raise TypeError("internal")


def test_natural_input_follows_the_family():
    from ui.common import natural_input

    assert natural_input("resnet20") == (3, 32, 32)
    if "resnet50_imagenet" in list_models():
        assert natural_input("resnet50_imagenet") == (3, 224, 224)
    if "inception_mnist" in list_models():
        assert natural_input("inception_mnist") == (1, 28, 28)


# --------------------------------------------------------------------------------------------
# The trace as a calculator: /calculator and /trace_export
# --------------------------------------------------------------------------------------------


def nbsp(text: str) -> str:
    """Sizes in the memory table keep number and unit together (a no-break space)."""
    return text.replace(" ", "\u00a0")


def core_trace(model_name: str, input_size=(3, 32, 32), **knobs):
    import torch

    from cnnzoo import create_model, trace

    with torch.device("meta"):
        return trace(create_model(model_name, **knobs), input_size, device="meta")


def test_calculator_resnet20(client):
    from cnnzoo.trace_calc import format_bytes, training_memory

    memory, table = client.predict(model_name="resnet20", batch_size=128, optimizer="adam", dataset="cifar10",
                                   api_name="/calculator")  # fmt: skip
    assert table["headers"] == ["#", "layer", "k / s / p", "output size", "RF", "jump", "kept, batch 128"]
    rows = {row[1]: row for row in table["data"]}
    assert len(table["data"]) == 61  # the rows of the layer table, by the same #
    assert rows["conv1"][2:] == ["3 / 1 / 1", "⌊(32 + 2·1 − 3)/1⌋ + 1 = 32", "3", "1", "1.6 MB"]  # 128 × 3·32·32·4 B
    assert rows["layer2.0.conv1"][2:4] == ["3 / 2 / 1", "⌊(32 + 2·1 − 3)/2⌋ + 1 = 16"]
    assert rows["layer3.2.conv2"][4:6] == ["81", "4"]  # 1 + 19 convs · 2 · jump (1, 2 or 4)
    assert rows["head.fc"][4:6] == ["whole input", "–"]
    expected = training_memory(core_trace("resnet20"), 128, "adam")
    assert f"**{nbsp(format_bytes(expected.total))}**" in memory and "optimizer state, 2 × the weights" in memory
    assert "backward, 128 × 1.5 MB" in memory and "81 × 81 input pixels" in memory
    assert re.search(r"≈ [\dms. ]+ per epoch\*\* of cifar10", memory)
    assert "3 × 50,000 training + 10,000 test images" in memory


def test_calculator_follows_the_settings(client):
    from cnnzoo.trace_calc import format_bytes

    small, _ = client.predict(model_name="resnet20", batch_size=1, optimizer="sgd", api_name="/calculator")
    large, _ = client.predict(model_name="resnet20", batch_size=256, optimizer="sgd", api_name="/calculator")
    assert "optimizer state, 0 × the weights | 0\u00a0B" in small
    assert "| activations kept for backward, 1 × 1.5 MB | 1.5\u00a0MB |" in small
    saved = core_trace("resnet20").saved_bytes  # per image
    assert f"| activations kept for backward, 256 × 1.5 MB | {nbsp(format_bytes(256 * saved))} |" in large
    digits, _ = client.predict(model_name="resnet20", dataset="digits", api_name="/calculator")
    assert "3 × 1,437 training + 360 test images" in digits

    _, imagenet = client.predict(model_name="resnet18_imagenet", input_height=224, input_width=224, num_classes=1000,
                                 api_name="/calculator")  # fmt: skip
    rows = {row[1]: row for row in imagenet["data"]}
    assert rows["conv1"][2:5] == ["7 / 2 / 3", "⌊(224 + 2·3 − 7)/2⌋ + 1 = 112", "7"]
    assert rows["layer4.1.conv2"][4:6] == ["435", "32"]  # ResNet-18's often-quoted receptive field


@pytest.mark.parametrize("bad, message", [
    # gradio checks the number's minimum and the dropdowns' choices before the handler runs
    ({"batch_size": 0}, "batch size must be at least 1, got 0"),
    ({"batch_size": None}, "batch size is empty"),
    ({"optimizer": "lion"}, r"lion is not in the list of choices: \['sgd\+momentum', 'sgd', 'adam'"),
    ({"dataset": "folder"}, "folder is not in the list of choices"),  # its size is unknown until uploaded
    ({"dataset": "imagenet"}, r"imagenet is not in the list of choices: \['digits', 'shapes'"),
    ({"model_name": "wide_resnet", "depth": 30}, "6n \\+ 4"),
    ({"input_height": 2, "input_width": 2}, "too small"),
])  # fmt: skip
def test_calculator_bad_inputs_say_what_to_do(client, bad, message):
    with pytest.raises(REFUSED, match=message):
        client.predict(**{"model_name": "simple_cnn", **bad}, api_name="/calculator")
    memory, _ = client.predict(model_name="resnet20", api_name="/calculator")  # still serving
    assert "81 × 81" in memory


def test_export_writes_markdown_latex_and_csv(client):
    import csv
    from pathlib import Path

    files = client.predict(model_name="resnet20", batch_size=64, api_name="/trace_export")
    paths = {Path(f).suffix: Path(f) for f in files}
    assert set(paths) == {".md", ".tex", ".csv"} and all(p.name.startswith("resnet20-3x32x32-layers") for p in paths.values())
    markdown = paths[".md"].read_text(encoding="utf-8").splitlines()
    assert markdown[0].startswith("| # | layer | type | output | params | MACs | kernel |") and len(markdown) == 2 + 61
    latex = paths[".tex"].read_text(encoding="utf-8")
    assert latex.startswith("\\begin{tabular}") and r"layer3.2.conv2 & Conv2d & 64$\times$8$\times$8" in latex
    rows = list(csv.DictReader(paths[".csv"].open(encoding="utf-8")))
    assert len(rows) == 61 and sum(int(r["params"]) for r in rows) == 269_722
    assert int(rows[0]["kept for backward (bytes, batch 64)"]) == 64 * 3 * 32 * 32 * 4

    with pytest.raises(REFUSED, match="batch size must be at least 1, got 0"):
        client.predict(model_name="resnet20", batch_size=0, api_name="/trace_export")
    with pytest.raises(REFUSED, match="6n \\+ 4"):
        client.predict(model_name="wide_resnet", depth=30, api_name="/trace_export")


def test_train_tab_estimate_follows_its_form():
    """The Train tab's estimate (ui.calculator.training_estimate), as its private event calls it."""
    from ui.calculator import training_estimate

    form = dict(model_name="resnet20", dataset="cifar10", image_size="native", epochs=2, train_subset=0,
                depth=20, shortcut="A", pool="avg", num_classes=10)  # fmt: skip
    full = training_estimate(**form)
    assert "per epoch** · ≈" in full and "for 2 epochs of cifar10" in full and "40.6 M MACs per image" in full
    assert "3 × 5,000 training" in training_estimate(**{**form, "train_subset": 5000})
    assert "10.1 M MACs" in training_estimate(**{**form, "image_size": "16"})  # a quarter of the pixels
    assert "No time estimate" in training_estimate(**{**form, "dataset": "folder"})
    assert "6n + 4" in training_estimate(**{**form, "model_name": "wide_resnet", "depth": 20})


def test_a_trace_is_made_once_per_network_knobs_and_input(monkeypatch):
    # A class traces the same networks over and over (benchmarks/load.py): each is traced once.
    import ui.calculator as calculator

    calls = []
    real_trace = calculator.trace
    monkeypatch.setattr(calculator, "trace", lambda *args, **kwargs: calls.append(args[1]) or real_trace(*args, **kwargs))
    calculator._traces.clear()
    first = calculator.meta_trace("resnet20", {}, (3, 32, 32))
    assert calculator.meta_trace("resnet20", {}, (3, 32, 32)) is first and calls == [(3, 32, 32)]
    bigger = calculator.meta_trace("resnet20", {}, (3, 64, 64))
    assert calls == [(3, 32, 32), (3, 64, 64)] and bigger.rows[-1].output_shape == first.rows[-1].output_shape
    with pytest.raises(ValueError):
        calculator.meta_trace("resnet_cifar", {"depth": 21}, (3, 32, 32))  # not 6n + 2: refused, nothing kept
    assert len(calculator._traces) == 2


def test_what_a_trace_shows_is_drawn_once_per_network_knobs_and_input(monkeypatch):
    # Drawing the figure took ~0.4 s of CPU a request, more than the (cached) trace itself.
    import ui.shapes_tab as shapes_tab

    drawn = []
    real = shapes_tab.shape_figure
    monkeypatch.setattr(shapes_tab, "shape_figure", lambda name, result: drawn.append(name) or real(name, result))
    shapes_tab._shown.clear()
    from cnnzoo.registry import model_knobs
    from ui.common import KNOBS

    knobs = {name: value for name, value in model_knobs("resnet20").items() if name in KNOBS}
    form = dict(model_name="resnet20", input_channels=3, input_height=32, input_width=32, **knobs)
    table, totals, figure = shapes_tab.trace_model(**form)
    again = shapes_tab.trace_model(**form)
    assert drawn == ["resnet20"] and again[1] == totals and again[2] is figure
    assert numbers(totals)["params"] == 269_722 and figure.type == "matplotlib" and figure.plot.startswith("data:image/png")
    shapes_tab.trace_model(**{**form, "input_height": 64, "input_width": 64})
    assert drawn == ["resnet20", "resnet20"]
