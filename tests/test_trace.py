"""cnnzoo.trace: per-layer shapes, parameters and MACs; the 1×1-reduction arithmetic."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from cnnzoo import create_model, list_models
from cnnzoo.trace import reduction_arithmetic, trace


def no_hooks_left(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def no_global_hooks_left() -> bool:
    # FlopCounterMode's module tracker registers process-wide hooks; they must go too.
    from torch.nn.modules import module

    return not module._global_forward_hooks and not module._global_forward_pre_hooks


def test_rows_of_a_small_net_in_execution_order():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    result = trace(model, (3, 8, 8))

    assert [(r.name, r.layer_type, r.output_shape) for r in result.rows] == [
        ("0", "Conv2d", (1, 8, 8, 8)),
        ("1", "ReLU", (1, 8, 8, 8)),
        ("2", "MaxPool2d", (1, 8, 4, 4)),
        ("3", "Flatten", (1, 128)),
        ("4", "Linear", (1, 5)),
    ]
    conv, linear = result.rows[0], result.rows[4]
    assert conv.params == 3 * 8 * 9 + 8
    assert conv.macs == 3 * 9 * 8 * 8 * 8  # k·k·C_in · C_out · H·W
    assert linear.macs == 128 * 5
    assert result.total_params == sum(p.numel() for p in model.parameters())
    assert result.total_macs == conv.macs + linear.macs
    assert result.output_shape == (1, 5)
    assert result.input_size == (3, 8, 8)


def test_functional_steps_that_change_the_shape_get_a_row():
    # simple_cnn's GAP head averages in plain code (features.mean) before its Linear.
    result = trace(create_model("simple_cnn", width=8), (3, 32, 32))
    names = [(r.name, r.layer_type, r.output_shape) for r in result.rows]
    assert ("head", "mean()", (1, 32)) in names
    assert names[-1] == ("head.fc", "Linear", (1, 10))


def test_densenet_concatenation_shows_the_channels_grow():
    pytest.importorskip("cnnzoo.models.densenet")
    # depth 22 with bottlenecks: 3 dense layers per block, each adds growth_rate channels.
    result = trace(create_model("densenet", depth=22, growth_rate=4), (3, 32, 32))
    first_block = [r.output_shape[1] for r in result.rows if r.layer_type == "cat()"][:3]
    assert [later - earlier for earlier, later in zip(first_block, first_block[1:])] == [4, 4]


def test_resnet18_and_resnet50_match_torchvision():
    """torchvision publishes 1.81 / 4.09 GFLOPS (really GMACs) and 11,689,512 / 25,557,032 parameters."""
    torchvision = pytest.importorskip("torchvision")
    for name, builder, published_gmacs in [
        ("resnet18_imagenet", torchvision.models.resnet18, 1.81),
        ("resnet50_imagenet", torchvision.models.resnet50, 4.09),
    ]:
        if name not in list_models():
            pytest.skip(f"{name} is not registered yet")
        # Shapes and counts need no memory: build on the meta device.
        with torch.device("meta"):
            ours, reference = create_model(name, num_classes=1000), builder()
        result = trace(ours, (3, 224, 224), device="meta")
        assert result.total_macs / 1e9 == pytest.approx(published_gmacs, rel=0.01)
        assert result.total_params == sum(p.numel() for p in reference.parameters())
        assert sum(r.params for r in result.rows) == result.total_params
        assert sum(r.macs for r in result.rows) == result.total_macs


def test_meta_device_gives_the_same_trace_as_cpu():
    cpu = trace(create_model("simple_cnn", width=8), (3, 16, 16))
    with torch.device("meta"):
        model = create_model("simple_cnn", width=8)
    meta = trace(model, (3, 16, 16), device="meta")
    assert meta.rows == cpu.rows and meta.total_macs == cpu.total_macs


def test_hooks_removed_and_mode_restored_after_success():
    model = create_model("simple_cnn", width=8).train()
    model.stage1.bn1.eval()  # a mixed state must come back exactly
    trace(model, (3, 16, 16))
    assert no_hooks_left(model) and no_global_hooks_left()
    assert model.training and not model.stage1.bn1.training and model.stage1.bn2.training


def test_hooks_removed_and_mode_restored_after_failure():
    model = create_model("simple_cnn", width=8).train()
    with pytest.raises(ValueError):
        trace(model, (3, 2, 2))
    assert no_hooks_left(model) and no_global_hooks_left()
    assert all(m.training for m in model.modules())


def test_too_small_input_names_the_layer_and_its_input():
    with pytest.raises(ValueError) as info:
        trace(create_model("simple_cnn", width=8), (3, 2, 2))
    message = str(info.value)
    # 2×2 -> max-pool -> 1×1 -> the second max-pool (stage3.pool) has nothing left to pool.
    assert "stage3.pool (MaxPool2d)" in message
    assert "(1, 16, 1, 1)" in message
    assert "larger input" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_wrong_channel_count_says_which_channels_to_use():
    with pytest.raises(ValueError) as info:
        trace(create_model("simple_cnn", width=8), (1, 32, 32))
    message = str(info.value)
    assert "stage1.conv1 (Conv2d)" in message and "(1, 1, 32, 32)" in message
    assert "expects 3 input channels" in message and "in_channels=1" in message


def test_fixed_size_linear_says_the_size_is_fixed():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    with pytest.raises(ValueError, match=r"2 \(Linear\).*expects 2704 features but received 3600"):
        trace(model, (1, 32, 32))


@pytest.mark.parametrize("bad", [(3, 32), (3, 0, 32), (3.0, 32, 32), "3x32x32"])
def test_bad_input_size_is_a_value_error(bad):
    with pytest.raises(ValueError, match="channels, height, width"):
        trace(create_model("simple_cnn", width=8), bad)


def test_model_on_another_device_is_a_value_error():
    with torch.device("meta"):
        model = create_model("simple_cnn", width=8)
    with pytest.raises(ValueError, match="device='meta'"):
        trace(model, (3, 8, 8), device="cpu")


def test_dataframe_columns():
    frame = trace(create_model("simple_cnn", width=8), (3, 16, 16)).to_dataframe()
    assert list(frame.columns) == ["name", "type", "output_shape", "params", "macs"]
    assert frame["output_shape"].iloc[0] == (1, 8, 16, 16)
    assert frame["params"].dtype.kind == "i" and frame["macs"].dtype.kind == "i"


def test_str_is_a_readable_table():
    text = str(trace(create_model("simple_cnn", width=8), (3, 16, 16)))
    assert "stage1.conv1" in text and "8×16×16" in text and text.splitlines()[-1].startswith("total:")


def test_reduction_arithmetic_matches_the_inception_example():
    """28×28×192 -> 5×5 conv -> 32 channels, directly or via a 1×1 reduction to 16 channels."""
    cost = reduction_arithmetic(192, 32, 5, 16, 28, 28)
    assert cost.direct_params == 153_600  # 5·5·192·32
    assert cost.direct_mults == 120_422_400  # ≈ 120.4 M
    assert (cost.reduce_params, cost.conv_params) == (3_072, 12_800)
    assert cost.reduced_params == 15_872
    assert round(cost.reduce_mults / 1e6, 1) == 2.4 and round(cost.conv_mults / 1e6, 1) == 10.0
    assert round(cost.reduced_mults / 1e6, 1) == 12.4
    assert cost.params_ratio == pytest.approx(153_600 / 15_872)
    assert cost.mults_ratio == pytest.approx(120_422_400 / 12_443_648)


def test_reduction_arithmetic_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match="reduce_channels"):
        reduction_arithmetic(192, 32, 5, 0, 28, 28)
