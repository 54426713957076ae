"""cnnzoo.precision: the training step's number format, decided on this machine, never assumed."""
import pytest
import torch

from cnnzoo import create_model
from cnnzoo.precision import BF16_MIN_PASS_S, choose_precision, cpu_has_native_bf16, training_autocast

CPU = torch.device("cpu")


def batch(n=8, side=16, channels=1):
    torch.manual_seed(0)
    return torch.randn(n, channels, side, side), torch.randint(0, 10, (n,))


def test_asked_precisions_are_taken_as_asked_and_others_refused():
    model = create_model("simple_cnn", in_channels=1, width=4)
    assert choose_precision("fp32", model, *batch(), CPU) == ("fp32", "as asked")
    assert choose_precision("bf16", model, *batch(), CPU) == ("bf16", "as asked")
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_precision("fp16", model, *batch(), CPU)


def test_a_cpu_without_native_bf16_trains_in_fp32(monkeypatch):
    monkeypatch.setenv("CNNZOO_CPU_BF16", "0")  # as on a CPU without AVX512-BF16 or AMX
    assert not cpu_has_native_bf16()
    model = create_model("resnet20", in_channels=1)
    assert choose_precision("auto", model, *batch(), CPU) == ("fp32", "this CPU has no native bf16")


def test_a_small_net_stays_in_fp32_without_timing_bf16(monkeypatch):
    timed = []
    monkeypatch.setattr("cnnzoo.precision.cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr("cnnzoo.precision._pass_seconds",
                        lambda model, images, labels, precision: timed.append(precision) or BF16_MIN_PASS_S / 2)
    model = create_model("simple_cnn", in_channels=1, width=4)
    precision, why = choose_precision("auto", model, *batch(), CPU)
    assert precision == "fp32" and "small net" in why and timed == ["fp32"]


@pytest.mark.parametrize("fp32_s, bf16_s, expected", [(1.0, 0.5, "bf16"), (1.0, 0.95, "fp32"), (1.0, 1.5, "fp32")])
def test_auto_keeps_bf16_only_where_it_measured_faster(monkeypatch, fp32_s, bf16_s, expected):
    monkeypatch.setattr("cnnzoo.precision.cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr("cnnzoo.precision._pass_seconds",
                        lambda model, images, labels, precision: {"fp32": fp32_s, "bf16": bf16_s}[precision])
    model = create_model("resnet20", in_channels=1)
    precision, why = choose_precision("auto", model, *batch(), CPU)
    assert precision == expected and f"{fp32_s / bf16_s:.2f}×" in why


def test_the_timing_runs_on_a_copy_and_leaves_the_model_alone(monkeypatch):
    monkeypatch.setattr("cnnzoo.precision.cpu_has_native_bf16", lambda: True)
    model = create_model("resnet20", in_channels=1).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr("cnnzoo.precision.BF16_MIN_PASS_S", 0.0)  # time both ways, whatever this machine
    precision, why = choose_precision("auto", model, *batch(), CPU)
    assert precision in ("fp32", "bf16") and "measured" in why
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training
    assert all(p.grad is None for p in model.parameters())


def test_bf16_autocast_rounds_the_convolutions_only():
    conv, bn = torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4)
    x = torch.randn(2, 1, 8, 8)
    with training_autocast(CPU, "bf16"):
        y = conv(x)
        z = bn(y.float())
    assert y.dtype == torch.bfloat16 and z.dtype == torch.float32 and conv.weight.dtype == torch.float32
    with training_autocast(CPU, "fp32"):
        assert conv(x).dtype == torch.float32


def test_the_device_follows_torch_accelerator(monkeypatch):
    from cnnzoo.compute import pick_device

    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: None)
    assert pick_device("auto") == torch.device("cpu") and pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="mps was asked for but this machine has no accelerator"):
        pick_device("mps")
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("xpu"))
    assert pick_device("auto") == torch.device("xpu") and pick_device("xpu:1") == torch.device("xpu", 1)
    with pytest.raises(ValueError, match="cuda was asked for but this machine's accelerator is xpu"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        pick_device("gpu0")
