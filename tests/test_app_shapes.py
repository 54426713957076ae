"""The Shapes tab through a real server and gradio_client, as a script or a class would use it."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client.exceptions import AppError

from cnnzoo import list_models


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
    assert table["headers"] == ["#", "layer", "type", "output (C × H × W)", "params", "MACs"]
    rows = table["data"]
    assert len(rows) == 61  # 19 convs + BN + ReLU ..., the GAP step and the classifier
    assert "Identity" not in {row[2] for row in rows}  # the stem's placeholder max-pool is no step
    assert rows[0][1:4] == ["conv1", "Conv2d", "16 × 32 × 32"]
    assert rows[-1][1:4] == ["head.fc", "Linear", "10"]
    assert sum(row[4] for row in rows) == 269_722
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
    assert table["data"][0][4] == 1 * 16 * 9  # conv1 reads one channel


def test_bad_knob_shows_the_rule_and_the_server_keeps_serving(client):
    with pytest.raises(AppError) as info:
        call_trace(client, "wide_resnet", depth=30)
    assert "6n + 4" in str(info.value) and "got 30" in str(info.value)

    with pytest.raises(AppError, match=r"stage3\.pool \(MaxPool2d\).*too small"):
        call_trace(client, "simple_cnn", input_height=2, input_width=2)

    table, totals, _ = call_trace(client, "resnet20")
    assert numbers(totals)["params"] == 269_722


def test_select_model_resets_knobs_and_input(client):
    outputs = client.predict("inception_mnist" if "inception_mnist" in list_models() else "simple_cnn",
                             api_name="/select_model")  # fmt: skip
    *knob_updates, channels, height, width, table, totals, plot = outputs
    if "inception_mnist" in list_models():
        assert (channels, height, width) == (1, 28, 28)
    assert table["data"][-1][3] == "10"

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
    assert "25.6 M parameters" in totals and table["data"][-1][3] == "1000"


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
