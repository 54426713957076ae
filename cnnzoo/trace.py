"""Walk one image through a network and report every layer: output shape, parameters, MACs,
and the calculator's columns (cnnzoo.trace_calc): window, receptive field, memory for backward.

    >>> result = trace(create_model("simple_cnn"), (3, 32, 32))
    >>> row = result.rows[0]
    >>> row.name, row.layer_type, row.output_shape, row.params, row.macs
    ('stage1.conv1', 'Conv2d', (1, 32, 32, 32), 864, 884736)
    >>> row.window.formula(), row.receptive_field, row.jump, row.saved_bytes
    ('⌊(32 + 2·1 − 3)/1⌋ + 1 = 32', (3, 3), (1, 1), 12288)
    >>> result.total_params, result.total_macs
    (288746, 38634752)
    >>> result.to_dataframe()           # pandas: name, type, output_shape, params, macs

Shapes and counts need no real tensors: on PyTorch's "meta" device a model has shapes and
no memory, so even a 6-billion-parameter net traces in seconds without allocating anything:

    with torch.device("meta"):
        model = create_model("wide_resnet", depth=1000, widen_factor=20)
    trace(model, (3, 32, 32), device="meta")

How the numbers are made
- **Shapes.** A forward hook on every module records what each *leaf* module (one without
  children: Conv2d, BatchNorm2d, ReLU, ...) returns, in the order the layers run. Steps that
  happen in plain code between leaves and change the shape, such as `torch.cat` in a dense
  block, the global average pool of a GAP head or `flatten`, get a row named after the
  function (`cat()`, `mean()`); a TorchFunctionMode sees them.
- **MACs** (multiply-accumulates) come from torch's own `torch.utils.flop_counter.FlopCounterMode`,
  which counts convolutions and matrix products from their shapes; one MAC is two FLOPs.
  A k×k convolution from C_in to C_out channels with an H×W output costs
  k·k·(C_in/groups)·C_out·H·W MACs. Batch norm, activations, pooling and additions are not
  counted, which is the convention behind the papers' and torchvision's "FLOPs" (really MACs).
  Each row's MACs are the counter's running total after the layer minus before it. (The
  counter also keeps a per-module breakdown, but that is tracked with process-wide module
  hooks, so two traces running at once in a web server's threads would mix their
  breakdowns; the running total only counts operations of its own thread.)
- **Parameters** are counted at a module's first use, so the column sums to the model's total
  even when a module (a shared ReLU) runs twice.
- **The calculator's columns** come from the same pass: the function mode hands every torch
  function, also those inside the leaves, to a `trace_calc.Ledger`, which reads each
  convolution's or pooling's window from its arguments and follows every tensor's receptive
  field and whether autograd would keep it for backward (see cnnzoo/trace_calc.py).

`reduction_arithmetic` is the Inception paper's argument for 1×1 "reduction" convolutions,
as numbers: a k×k convolution applied to few channels is cheap, so squeeze the channels first.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from cnnzoo.compute import eval_mode
from cnnzoo.models.common import check_positive_int
from cnnzoo.trace_calc import Ledger, Span, Window

__all__ = ["TraceRow", "TraceResult", "trace", "ReductionArithmetic", "reduction_arithmetic"]

# Friendlier names for functions that show up as functional steps.
_FUNCTION_NAMES = {"__getitem__": "index"}
ROOT_NAME = "(model)"  # the name rows use for the model's own forward code


@dataclass(frozen=True)
class TraceRow:
    """One step of the forward pass: a leaf module, or a functional step that changed the shape
    (or counted MACs, or keeps memory for backward). The calculator's columns (cnnzoo.trace_calc):
    the window a convolution or pooling slides, the receptive field, and the bytes kept for
    backward per image."""

    name: str  # qualified module name, e.g. "layer2.0.conv1"; a functional step has its caller's
    layer_type: str  # "Conv2d", or the function of a functional step, e.g. "cat()"
    output_shape: tuple[int, ...]  # (1, C, H, W) for feature maps, (1, classes) for logits
    params: int
    macs: int
    window: Window | None = None  # kernel, stride, padding, dilation of a conv or pooling
    field: tuple[Span, Span] | None = None  # (height, width) receptive field of the output; None: unknown
    saved_bytes: int = 0  # per image: what autograd keeps for backward, first kept by this step

    @property
    def kernel(self) -> tuple[int, int] | None:
        return self.window.kernel if self.window else None

    @property
    def stride(self) -> tuple[int, int] | None:
        return self.window.stride if self.window else None

    @property
    def padding(self) -> tuple[int, int] | None:
        return self.window.padding if self.window else None

    @property
    def dilation(self) -> tuple[int, int] | None:
        return self.window.dilation if self.window else None

    @property
    def receptive_field(self) -> tuple[int, int] | None:
        """(height, width) in input pixels each output position sees (unclipped)."""
        return (self.field[0].size, self.field[1].size) if self.field else None

    @property
    def jump(self) -> tuple[int, int] | None:
        """(height, width) input pixels between neighbouring output positions; (0, 0) after global pooling."""
        return (self.field[0].jump, self.field[1].jump) if self.field else None


@dataclass
class TraceResult:
    rows: list[TraceRow]
    input_size: tuple[int, int, int]
    total_params: int  # every parameter of the model, each shared tensor once
    total_macs: int  # everything the FLOP counter saw during the forward pass, / 2
    param_bytes: int = 0  # the parameters' memory
    saved_bytes: int = 0  # per image: what autograd keeps for backward in training (rows' sum)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1].output_shape if self.rows else ()

    def to_dataframe(self):
        """A pandas DataFrame with columns name, type, output_shape, params, macs."""
        import pandas as pd  # only the table needs pandas; importing cnnzoo stays light

        return pd.DataFrame(
            [(r.name, r.layer_type, r.output_shape, r.params, r.macs) for r in self.rows],
            columns=["name", "type", "output_shape", "params", "macs"],
        )

    def __str__(self) -> str:
        lines = [f"{'layer':<32} {'type':<20} {'output shape':<22} {'params':>12} {'MACs':>15}"]
        for r in self.rows:
            shape = "×".join(map(str, r.output_shape))
            lines.append(f"{r.name:<32} {r.layer_type:<20} {shape:<22} {r.params:>12,} {r.macs:>15,}")
        lines.append(f"total: {self.total_params:,} parameters, {self.total_macs:,} MACs")
        return "\n".join(lines)


def _first_tensor(tree) -> torch.Tensor | None:
    return next((t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)), None)


def _shape(tree) -> tuple[int, ...]:
    tensor = _first_tensor(tree)
    return tuple(tensor.shape) if tensor is not None else ()


class _Recorder(TorchFunctionMode):
    """Hooks plus a function mode that turn one forward pass into TraceRows.

    `running` is the stack of modules whose forward has started and not finished, with the
    input shape each received: when the forward raises, its top is the layer that failed.
    The hooks ignore calls from other threads (the same model traced twice at once).
    """

    def __init__(self, model: nn.Module, flop_counter: FlopCounterMode, ledger: Ledger):
        super().__init__()
        self.names = {module: name or ROOT_NAME for name, module in model.named_modules()}
        self.flop_counter = flop_counter
        self.rows: list[TraceRow] = []
        self.running: list[tuple[nn.Module, tuple[int, ...], int]] = []  # (module, input shape, FLOPs so far)
        self.leaves_running = 0
        self.function_running: tuple[str, tuple[int, ...]] | None = None
        self.seen_params: set[int] = set()
        self.ledger = ledger  # the calculator's columns: windows, receptive fields, memory kept for backward
        self.leaf_window: Window | None = None  # of the leaf running now
        self.leaf_saved = 0
        self.thread = threading.get_ident()

    def new_params(self, module: nn.Module) -> int:
        count = 0
        for p in module.parameters():
            if id(p) not in self.seen_params:
                self.seen_params.add(id(p))
                count += p.numel()
        return count

    # Module hooks ---------------------------------------------------------------------------
    def before_forward(self, module, args):
        if threading.get_ident() != self.thread:
            return
        self.running.append((module, _shape(args), self.flop_counter.get_total_flops()))
        if _is_leaf(module):
            self.leaves_running += 1
            self.leaf_window, self.leaf_saved = None, 0

    def after_forward(self, module, args, output):
        if threading.get_ident() != self.thread:
            return
        _, _, flops_before = self.running.pop()
        if not _is_leaf(module):
            return
        self.leaves_running -= 1
        if isinstance(module, nn.Identity):  # a placeholder (the CIFAR ResNet stem's absent max-pool): no step
            return
        macs = (self.flop_counter.get_total_flops() - flops_before) // 2
        name = self.names.get(module, ROOT_NAME)
        field = self.ledger.field(_first_tensor(output))
        self.rows.append(TraceRow(name, type(module).__name__, _shape(output), self.new_params(module), macs,
                                  self.leaf_window, field, self.leaf_saved))

    # Functional steps between leaves ------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self.running or threading.get_ident() != self.thread:  # outside the model
            return func(*args, **kwargs)
        function = getattr(func, "__name__", str(func))
        if self.leaves_running:  # inside Conv2d & co: only the calculator looks
            out = func(*args, **kwargs)
            window, saved = self.ledger.step(function, args, kwargs, out)
            self.leaf_window, self.leaf_saved = self.leaf_window or window, self.leaf_saved + saved
            return out
        first_input = _first_tensor((args, kwargs))
        name = _FUNCTION_NAMES.get(function, function)
        self.function_running = (name, tuple(first_input.shape) if first_input is not None else ())
        flops_before = self.flop_counter.get_total_flops()
        out = func(*args, **kwargs)
        self.function_running = None
        macs = (self.flop_counter.get_total_flops() - flops_before) // 2
        window, saved = self.ledger.step(function, args, kwargs, out)
        if isinstance(out, torch.Tensor) and first_input is not None and (
            out.shape != first_input.shape or macs or saved
        ):
            caller = self.running[-1][0]
            self.rows.append(TraceRow(self.names.get(caller, ROOT_NAME), f"{name}()", tuple(out.shape), 0, macs,
                                      window, self.ledger.field(out), saved))
        return out


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


def trace(model: nn.Module, input_size, device="cpu") -> TraceResult:
    """Run one image of `input_size` = (channels, height, width) through `model`, layer by layer.

    The model runs in eval mode (batch norm uses its running statistics, dropout is off) and
    without gradients; each module's train/eval flag is restored afterwards, and every hook
    is removed, also when the forward pass fails. An input the network cannot take (too
    small, wrong channel count) raises ValueError naming the first layer that failed.
    """
    input_size = _check_input_size(input_size)
    x = _make_input(model, input_size, device)
    flop_counter = FlopCounterMode(display=False)
    recorder = _Recorder(model, flop_counter, Ledger(x))
    handles = []
    try:
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(recorder.before_forward))
            handles.append(module.register_forward_hook(recorder.after_forward))
        with eval_mode(model), torch.no_grad(), flop_counter, recorder:
            model(x)
    except (RuntimeError, ValueError) as err:
        if not recorder.running:
            raise  # failed outside any layer: not the input's fault
        raise ValueError(_explain_failure(recorder, input_size, err)) from err
    finally:
        for handle in handles:
            handle.remove()
    return TraceResult(
        rows=recorder.rows,
        input_size=input_size,
        total_params=sum(p.numel() for p in model.parameters()),
        total_macs=flop_counter.get_total_flops() // 2,
        param_bytes=sum(p.numel() * p.element_size() for p in model.parameters()),
        saved_bytes=recorder.ledger.total,
    )


def _check_input_size(input_size) -> tuple[int, int, int]:
    try:
        size = tuple(input_size)
    except TypeError:
        size = ()
    if len(size) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size):
        raise ValueError(
            f"input_size must be (channels, height, width) with positive integers, "
            f"e.g. (3, 32, 32); got {input_size!r}"
        )
    return size


def _make_input(model: nn.Module, input_size, device) -> torch.Tensor:
    param = next(model.parameters(), None)
    if param is not None and param.device != torch.device(device):
        raise ValueError(
            f"the model's parameters are on {param.device} but device={device!r}: "
            f"pass device={str(param.device)!r} or move the model with model.to({device!r})"
        )
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.zeros((1, *input_size), device=device, dtype=dtype)


def _explain_failure(recorder: _Recorder, input_size, err: Exception) -> str:
    module, received, _ = recorder.running[-1]
    name = recorder.names.get(module, ROOT_NAME)
    layer = f"{name} ({type(module).__name__})"
    if recorder.function_running is not None:  # failed in plain code, e.g. torch.cat
        function, received = recorder.function_running
        layer += f", in {function}(),"
    size = "×".join(map(str, input_size))
    got = str(received) if received else "nothing"
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (
        f"Input {size} (channels×height×width) does not fit this network: layer {layer} "
        f"failed on its input of shape {got}. {_advice(module, received, input_size)} "
        f"(PyTorch said: {reason})"
    )


def _advice(module: nn.Module, received: tuple[int, ...], input_size) -> str:
    channels = input_size[0]
    if isinstance(module, nn.modules.conv._ConvNd) and len(received) > 1 and received[1] != module.in_channels:
        if received[1] == channels:
            return (
                f"It expects {module.in_channels} input channels but the image has {channels}: "
                f"set the input channels to {module.in_channels}, or build the model with "
                f"in_channels={channels}."
            )
        return f"It expects {module.in_channels} channels but received {received[1]}."
    if isinstance(module, nn.Linear) and received and received[-1] != module.in_features:
        return (
            f"It expects {module.in_features} features but received {received[-1]}: this network "
            f"flattens its feature map, so it only takes the input size it was designed for."
        )
    if len(received) == 4 and min(received[2:]) < 8:
        return (
            f"The feature map has shrunk to {received[2]}×{received[3]}, too small for this layer: "
            f"use a larger input (each stride-2 layer halves the size; CIFAR models expect "
            f"32×32, ImageNet models 224×224)."
        )
    return (
        "Check the input size and channels: CIFAR models expect 3×32×32, MNIST models 1×28×28, "
        "ImageNet models 3×224×224."
    )


# --------------------------------------------------------------------------------------------
# The 1×1 reduction arithmetic of the Inception module (Szegedy et al. 2014, arXiv 1409.4842)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReductionArithmetic:
    """Weights and multiplications of a k×k conv, direct vs. after a 1×1 reduction.

    direct:  k·k·C_in·C_out weights,  k·k·C_in·C_out·H·W multiplications
    reduced: 1·1·C_in·R + k·k·R·C_out weights,  (C_in·R + k·k·R·C_out)·H·W multiplications
    """

    direct_params: int
    direct_mults: int
    reduce_params: int  # the 1×1 conv C_in -> R
    reduce_mults: int
    conv_params: int  # the k×k conv R -> C_out
    conv_mults: int

    @property
    def reduced_params(self) -> int:
        return self.reduce_params + self.conv_params

    @property
    def reduced_mults(self) -> int:
        return self.reduce_mults + self.conv_mults

    @property
    def params_ratio(self) -> float:
        """How many times fewer weights the reduced path has (direct / reduced)."""
        return self.direct_params / self.reduced_params

    @property
    def mults_ratio(self) -> float:
        return self.direct_mults / self.reduced_mults


def reduction_arithmetic(
    in_channels: int, out_channels: int, kernel_size: int, reduce_channels: int, height: int, width: int
) -> ReductionArithmetic:
    """Cost of a kernel_size² conv on a height×width×in_channels map, with and without a 1×1 reduction.

    Both paths use "same" padding, so every conv outputs height×width positions, and each
    output value of a k×k conv over C channels costs k·k·C multiplications. Counts are
    weights only, without biases (as in the Inception paper's arithmetic): biases would add
    C_out to the direct path and R + C_out to the reduced one, a rounding error here.

    The classic example: 28×28×192 -> 5×5 conv -> 32 channels costs 153,600 weights and
    120.4M multiplications. The Inception post (seed 002) reduces to 32 channels first:
    6,144 + 25,600 = 31,744 weights and 4.8M + 20.1M = 24.9M multiplications, 4.8× less; the
    GoogLeNet lecture's version reduces to 16: 3,072 + 12,800 = 15,872 weights and 12.4M
    multiplications, 9.7× less.
    """
    for name, value in [
        ("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size),
        ("reduce_channels", reduce_channels), ("height", height), ("width", width),
    ]:  # fmt: skip
        check_positive_int(name, value)
    positions = height * width  # output positions of every conv ("same" padding)
    k2 = kernel_size * kernel_size
    direct_params = k2 * in_channels * out_channels
    reduce_params = in_channels * reduce_channels  # 1×1×C_in×R
    conv_params = k2 * reduce_channels * out_channels
    return ReductionArithmetic(
        direct_params=direct_params,
        direct_mults=direct_params * positions,
        reduce_params=reduce_params,
        reduce_mults=reduce_params * positions,
        conv_params=conv_params,
        conv_mults=conv_params * positions,
    )
