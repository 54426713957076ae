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


# --------------------------------------------------------------------------------------------
# The trace as a calculator (cnnzoo.trace_calc): windows, receptive fields, memory, time, export
# --------------------------------------------------------------------------------------------

from torch.autograd.graph import saved_tensors_hooks  # noqa: E402

from cnnzoo.registry import model_info  # noqa: E402
from cnnzoo.trace_calc import (  # noqa: E402
    OPTIMIZER_STATE, Span, Window, epoch_estimate, export_rows, to_csv, to_latex, to_markdown, training_memory,
)


def three_layer_net() -> nn.Sequential:
    """conv 3×3 pad 1 -> max-pool 2 -> conv 3×3 dilation 2 pad 2, with ReLUs."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 3, padding=2, dilation=2), nn.ReLU())  # fmt: skip


def test_output_size_formula_reads_with_the_numbers_filled_in():
    assert Window((3, 3), (2, 2), (1, 1), (1, 1), (32, 32)).formula() == "⌊(32 + 2·1 − 3)/2⌋ + 1 = 16"
    assert Window((3, 3), (1, 1), (2, 2), (2, 2), (16, 16)).formula() == "⌊(16 + 2·2 − 2·(3 − 1) − 1)/1⌋ + 1 = 16"
    assert Window((3, 3), (2, 2), (0, 0), (1, 1), (8, 8), ceil_mode=True).output_size == (4, 4)  # torch: 4
    assert Window((3, 1), (1, 1), (1, 0), (1, 1), (8, 6)).formula() == (
        "H: ⌊(8 + 2·1 − 3)/1⌋ + 1 = 8 · W: ⌊(6 + 2·0 − 1)/1⌋ + 1 = 6")
    assert Window((3, 3), (2, 2), (1, 1), (1, 1), (32, 32)).formula(latex=True) == (
        r"$\lfloor (32 + 2\cdot 1 - 3)/2\rfloor + 1 = 16$")
    ceil = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    row = next(r for r in trace(nn.Sequential(ceil), (1, 8, 8)).rows if r.window)
    assert row.window.output_size == row.output_shape[2:] == (4, 4) and row.window.formula().startswith("⌈")


def test_receptive_field_of_a_plain_three_layer_net_by_hand():
    # lo, hi, jump along one axis:  image (0, 0, 1)
    #   conv 3×3, p 1:           lo − 1 = −1, hi + 2 − 1 = 1, j 1        -> field 3
    #   max-pool 2, s 2:         −1,          1 + 1·1 = 2,   j 2        -> field 4
    #   conv 3×3, d 2, p 2:      −1 − 2·2 = −5, 2 + (2·2 − 2)·2 = 6, j 2 -> field 12
    rows = trace(three_layer_net(), (1, 24, 24)).rows
    assert [(r.layer_type, r.field[0]) for r in rows] == [
        ("Conv2d", Span(-1, 1, 1)), ("ReLU", Span(-1, 1, 1)), ("MaxPool2d", Span(-1, 2, 2)),
        ("Conv2d", Span(-5, 6, 2)), ("ReLU", Span(-5, 6, 2)),
    ]  # fmt: skip
    assert rows[-1].receptive_field == (12, 12) and rows[-1].jump == (2, 2)
    assert (rows[0].kernel, rows[0].stride, rows[0].padding, rows[3].dilation) == ((3, 3), (1, 1), (1, 1), (2, 2))
    assert rows[1].window is None and rows[1].kernel is None


def test_resnet18_imagenet_receptive_field_by_hand():
    """7×7/2 stem: 7 (jump 2); 3×3/2 max-pool: 7 + 2·2 = 11 (jump 4); each 3×3 conv adds 2·jump,
    and a stage's first conv doubles the jump after it: 11 + 4·8 = 43; + 8 + 3·16 = 99;
    + 16 + 3·32 = 211; + 32 + 3·64 = 435 (jump 32). The 1×1 shortcuts add nothing."""
    with torch.device("meta"):
        model = create_model("resnet18_imagenet", num_classes=1000)
    rows = {r.name: r for r in trace(model, (3, 224, 224), device="meta").rows}
    expected = {"conv1": (7, 2), "maxpool": (11, 4), "layer1.1.conv2": (43, 4), "layer2.1.conv2": (99, 8),
                "layer3.1.conv2": (211, 16), "layer4.1.conv2": (435, 32),
                "layer2.0.downsample.0": (43, 8)}  # a 1×1 conv: the field it reads, a doubled jump
    for name, (field, jump) in expected.items():
        assert rows[name].receptive_field == (field, field) and rows[name].jump == (jump, jump), name
    assert rows["layer4.1.conv2"].field[0] == Span(-217, 217, 32)  # centred: pixel i sees 32·i ± 217
    assert rows["head.fc"].jump == (0, 0)  # after global pooling: the whole image


def linearised(model: nn.Module) -> nn.Module:
    """A copy whose output depends on every pixel of its receptive field: no ReLU (never off),
    average instead of max pooling (every tap counts), positive weights (nothing cancels)."""
    import copy

    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(module, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.fill_(1 / conv.weight[0].numel())  # each output the mean of its inputs
    return model


def gradient_mask(features, input_size, position: int) -> torch.Tensor:
    """(H, W) bool: where d(output pixel (position, position), summed over channels)/d(input) ≠ 0."""
    x = torch.rand(1, *input_size, requires_grad=True)
    features(x)[0, :, position, position].sum().backward()
    return x.grad[0].abs().sum(0) > 0


def field_mask(span: Span, position: int, size: int) -> torch.Tensor:
    """(size, size) bool: the input pixels position (position, position) sees by the computed
    span (the same along both axes), clipped to the image."""
    seen = torch.zeros(size, dtype=torch.bool)
    seen[max(0, span.lo + position * span.jump):span.hi + position * span.jump + 1] = True
    return seen[:, None] & seen[None, :]


def bounding_box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def test_gradients_are_zero_outside_the_computed_field_and_reach_its_edges(one_thread):
    torch.manual_seed(0)
    net = three_layer_net().requires_grad_(False)
    span = trace(net, (1, 24, 24)).rows[-1].field[0]
    for position in (0, 3, 5):  # at the border (clipped to the image), and inside it
        field = field_mask(span, position, 24)
        linear = gradient_mask(linearised(net), (1, 24, 24), position)
        # Zero outside, and out to the field's edges. (Inside it has holes: the dilated conv's taps
        # skip every other pooled position; the field is their hull, as the papers define it.)
        assert not (linear & ~field).any() and bounding_box(linear) == bounding_box(field), position
        assert not (gradient_mask(net, (1, 24, 24), position) & ~field).any()  # the real net: never outside


def test_resnet18_gradients_stay_inside_its_435_pixel_field(one_thread):
    # 448×448, so that the field of position 7 of the 14×14 map, 7·32 ± 217 = 7 … 441, fits inside.
    torch.manual_seed(0)
    # Eval mode: in training, batch norm's batch statistics mix every position of the map. No zero-γ
    # start: a branch that outputs zeros passes no gradient, and only the shortcuts' field would show.
    model = create_model("resnet18_imagenet", num_classes=10, zero_init_residual=False).eval().requires_grad_(False)
    span = {r.name: r for r in trace(model, (3, 448, 448)).rows}["layer4.1.relu"].field[0]
    field = field_mask(span, 7, 448)
    assert bounding_box(field) == (7, 441, 7, 441)
    assert torch.equal(gradient_mask(linearised(model).forward_features, (3, 448, 448), 7), field)  # every pixel
    assert not (gradient_mask(model.forward_features, (3, 448, 448), 7) & ~field).any()


@pytest.mark.parametrize("name", list_models(kind="classifier"))
def test_output_size_formulas_match_the_traced_shapes(name):
    """Every registered classifier at the input size it was made for (on the meta device)."""
    with torch.device("meta"):
        model = create_model(name)
    rows = trace(model, model_info(name)["input_size"], device="meta").rows
    windows = [r for r in rows if r.window]
    assert windows
    for row in windows:
        assert row.window.output_size == row.output_shape[2:], f"{row.name}: {row.window.formula()}"
        assert row.window.formula().endswith(f"= {row.output_shape[3]}")
    assert all(r.window for r in rows if r.layer_type in ("Conv2d", "MaxPool2d", "AvgPool2d"))


def saved_for_backward(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps during a real training forward pass: every distinct storage the
    saved-tensor hook sees that is not a parameter or buffer of the model."""
    own = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in own:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return sum(storages.values())


@pytest.mark.parametrize("name, knobs", [
    ("resnet20", {}), ("resnet18_imagenet", {}), ("densenet", {"depth": 40}), ("googlenet_small", {}),
    ("inception_mnist", {}), ("wide_resnet16_4", {"dropout": 0.3}), ("resnet20", {"pool": "max", "shortcut": "B"}),
])  # fmt: skip
def test_memory_kept_for_backward_matches_the_saved_tensors(name, knobs, one_thread):
    if name not in list_models():
        pytest.skip(f"{name} is not registered")
    torch.manual_seed(0)
    model = create_model(name, **knobs)
    size = model_info(name)["input_size"]
    result = trace(model, size)
    assert sum(r.saved_bytes for r in result.rows) == result.saved_bytes
    measured = saved_for_backward(model, torch.randn(2, *size)) / 2
    assert result.saved_bytes == pytest.approx(measured, rel=0.10)


def test_training_memory_matches_what_torch_holds(one_thread):
    torch.manual_seed(0)
    model = create_model("resnet20")
    result = trace(model, (3, 32, 32))
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    for optimizer, make in {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1), "sgd+momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        "adam": lambda p: torch.optim.Adam(p), "rmsprop": lambda p: torch.optim.RMSprop(p),
        "rmsprop+momentum": lambda p: torch.optim.RMSprop(p, momentum=0.9),
    }.items():  # fmt: skip
        memory = training_memory(result, batch_size=4, optimizer=optimizer)
        opt = make(model.parameters())
        model.zero_grad()
        model(torch.randn(4, 3, 32, 32)).sum().backward()
        opt.step()
        state = sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
                    if torch.is_tensor(t) and t.dim() > 0)  # fmt: skip (Adam's 0-dim step counters aside)
        gradients = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
        assert (memory.weights, memory.gradients, memory.optimizer_state) == (weights, gradients, state), optimizer
    memory = training_memory(result, batch_size=4, optimizer="adam")
    assert memory.activations == pytest.approx(saved_for_backward(model, torch.randn(4, 3, 32, 32)), rel=0.10)
    assert memory.total == memory.weights * 4 + memory.activations  # weights, gradients, 2 Adam moments
    assert set(OPTIMIZER_STATE) == {"sgd", "sgd+momentum", "adam", "rmsprop", "rmsprop+momentum"}


@pytest.mark.parametrize("batch_size, optimizer, message", [
    (0, "sgd", "batch_size"), (2.5, "sgd", "batch_size"), (8, "lion", "optimizer must be one of"),
])  # fmt: skip
def test_training_memory_rejects_bad_settings(batch_size, optimizer, message):
    result = trace(create_model("simple_cnn", width=8), (3, 16, 16))
    with pytest.raises(ValueError, match=message):
        training_memory(result, batch_size, optimizer)


def test_epoch_estimate_is_positive_and_linear_in_the_dataset_size():
    result = trace(create_model("simple_cnn", width=8), (3, 32, 32))
    small, large = (epoch_estimate(result, "shapes", train_subset=n, device="cpu") for n in (1000, 4000))
    assert small.seconds > 0 and small.rate > 0 and small.rate == large.rate  # measured once, cached
    assert (small.train_images, small.test_images) == (1000, 2000)
    # seconds = MACs · (3 · train + test) / rate
    assert large.seconds - small.seconds == pytest.approx(result.total_macs * 3 * 3000 / small.rate, rel=1e-9)
    assert small.seconds == pytest.approx(result.total_macs * (3 * 1000 + 2000) / small.rate, rel=1e-9)
    with pytest.raises(ValueError, match="uploaded"):
        epoch_estimate(result, "folder")
    with pytest.raises(ValueError, match="Unknown dataset"):
        epoch_estimate(result, "imagenet")


def test_the_table_exports_as_markdown_latex_and_csv():
    import csv
    import io

    result = trace(create_model("resnet20"), (3, 32, 32))
    rows = export_rows(result, batch_size=8)
    assert len(rows) == len(result.rows) and rows[0]["output size"] == "⌊(32 + 2·1 − 3)/1⌋ + 1 = 32"
    assert rows[0]["kept for backward (bytes, batch 8)"] == 8 * 3 * 32 * 32 * 4  # the image, kept by conv1

    markdown = to_markdown(result, batch_size=8).splitlines()
    assert len(markdown) == 2 + len(rows) and markdown[0].startswith("| # | layer | type |")
    assert markdown[1].startswith("|---:|---|---|---|---:|---:|")  # numbers right-aligned
    assert "| 1 | conv1 | Conv2d | 16×32×32 | 432 | 442,368 | 3 | 1 | 1 | 1 | ⌊(32 + 2·1 − 3)/1⌋ + 1 = 32 | 3 | 1 | 98,304 |" in markdown
    assert all(line.count(" | ") == markdown[0].count(" | ") for line in markdown[2:])

    latex = to_latex(result, batch_size=8)
    assert latex.startswith("\\begin{tabular}{rlllrr") and "\\toprule" in latex and latex.rstrip().endswith("\\end{tabular}")
    assert r"layer1.0.conv1 & Conv2d" in latex and r"\# &" in latex and r"$\lfloor (32 + 2\cdot 1 - 3)/1\rfloor + 1 = 32$" in latex
    assert r"16$\times$32$\times$32" in latex and "_" not in latex.replace(r"\_", "")

    parsed = list(csv.DictReader(io.StringIO(to_csv(result, batch_size=8))))
    assert [r["layer"] for r in parsed] == [r.name for r in result.rows]
    assert sum(int(r["params"]) for r in parsed) == 269_722
    assert sum(int(r["kept for backward (bytes, batch 8)"]) for r in parsed) == 8 * result.saved_bytes


def test_non_square_windows_and_steps_without_a_rule():
    from cnnzoo.trace_calc import field_text

    rows = trace(nn.Sequential(nn.Conv2d(1, 2, (3, 1), padding=(1, 0)), nn.Upsample(scale_factor=2),
                               nn.Conv2d(2, 2, 3)), (1, 8, 8)).rows  # fmt: skip
    assert rows[0].receptive_field == (3, 1) and field_text(rows[0]) == ("3×1", "1")
    assert rows[0].window.formula() == "H: ⌊(8 + 2·1 − 3)/1⌋ + 1 = 8 · W: ⌊(8 + 2·0 − 1)/1⌋ + 1 = 8"
    assert rows[1].field is None and rows[2].field is None  # upsampling: no rule, so unknown from here on
    assert field_text(rows[2]) == ("?", "?") and rows[2].window.output_size == (14, 14)
