"""The trace as a calculator: the arithmetic of every layer, and of training the whole network.

    result = trace(create_model("resnet18_imagenet", num_classes=1000), (3, 224, 224))
    conv = result.rows[-5]                      # layer4.1.conv2, the last convolution
    conv.window.formula()                       # '⌊(7 + 2·1 − 3)/1⌋ + 1 = 7'
    conv.receptive_field, conv.jump             # (435, 435), (32, 32)
    training_memory(result, batch_size=128, optimizer="sgd+momentum").total   # bytes
    epoch_estimate(result, "cifar10").seconds   # on this machine, from a measured rate
    to_markdown(result, batch_size=128)         # also to_latex, to_csv

`trace` hands every torch function of the forward pass (also those inside Conv2d & co.) to a
`Ledger`, which reads what it needs from the arguments and the result's shape: nothing here
needs real numbers, so it all works on the "meta" device.

**Output size.** A window of k taps, d apart (dilation d, so it spans d·(k − 1) + 1 pixels),
moved by s (stride) over a side of H pixels padded by p on both ends, fits

    ⌊(H + 2p − d·(k − 1) − 1)/s⌋ + 1        (with d = 1: ⌊(H + 2p − k)/s⌋ + 1)

times; with ceil_mode the floor is a ceiling (but a window may not start in the right padding).

**Receptive field** (Araujo, Norris & Sim 2019, "Computing Receptive Fields of Convolutional
Neural Networks", Distill). Along one axis, position i of a feature map sees the input pixels
lo + i·j … hi + i·j: j, the *jump*, is how many input pixels apart neighbouring positions are, and
hi − lo + 1 is the receptive field. The image itself has lo = hi = 0 and j = 1; a window maps

    lo' = lo − p·j        hi' = hi + (d·(k − 1) − p)·j        j' = s·j

Elementwise steps (batch norm, ReLU) keep the field; a sum or concatenation of maps (a residual
addition, a dense block) takes the union (min lo, max hi; their jumps agree); a global pooling,
flatten or linear layer sees every position at once (hi + (n − 1)·j; the jump is then 0). Values
are unclipped, as the papers quote them: ResNet-18's last convolution sees 435×435 pixels of a
224×224 image, the rest of its field is zero padding. A step the ledger has no rule for, that
changes a map's size (an upsampling), makes the field unknown (None) from there on.

**Memory kept for backward.** In training, autograd keeps some tensors of the forward pass until
the backward pass has used them; that, times the batch size, is what training adds on top of the
weights. What each function keeps is its derivative's need (torch's derivatives.yaml): a
convolution or linear layer keeps its input (the gradient of the weights is input × output
gradient), batch norm its input, ReLU its output (its gradient is output > 0), max-pooling its
input and the int64 index of every maximum, dropout its mask (a float on the CPU; its output is
a new tensor the next layer keeps); additions, concatenations, mean-pooling and views keep
nothing. A tensor is counted once, at the first step that keeps it: an in-place ReLU's output is
the very tensor the next convolution keeps as its input.
A function without a rule here counts as keeping nothing; tests/test_trace.py checks the rules
against the tensors torch's saved_tensors_hooks see in real training forward passes.
"""
from __future__ import annotations

import csv
import io
import weakref
from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = [
    "Span", "Window", "Ledger", "TrainingMemory", "training_memory", "OPTIMIZER_STATE", "EpochEstimate",
    "epoch_estimate", "export_rows", "to_markdown", "to_latex", "to_csv", "format_bytes", "field_text", "pair_text",
]  # fmt: skip


@dataclass(frozen=True)
class Span:
    """Along one axis, position i of a map sees input pixels lo + i·jump … hi + i·jump (unclipped).

    jump = 0: every position sees the same pixels (after a global pooling, flatten or linear)."""

    lo: int
    hi: int
    jump: int

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def through(self, kernel: int, stride: int, padding: int, dilation: int) -> Span:
        """The span after a window: lo − p·j, hi + (d·(k − 1) − p)·j, jump s·j."""
        j = self.jump
        return Span(self.lo - padding * j, self.hi + (dilation * (kernel - 1) - padding) * j, stride * j)

    def whole(self, positions: int) -> Span:
        """Every one of `positions` positions together: what a global pooling sees."""
        return Span(self.lo, self.hi + (positions - 1) * self.jump, 0)


Field = tuple[Span, Span]  # (height, width)
UNKNOWN = "unknown"  # the field of a tensor made by a step without a rule


@dataclass(frozen=True)
class Window:
    """The sliding window of a convolution or pooling, per axis (height, width)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    input_size: tuple[int, int]  # the (H, W) it slides over
    ceil_mode: bool = False

    @property
    def output_size(self) -> tuple[int, int]:
        """(H', W') by the formula (see the module docstring), not read from a tensor."""
        return self._side(0), self._side(1)

    def _side(self, axis: int) -> int:
        size, k, s, p, d = (v[axis] for v in (self.input_size, self.kernel, self.stride, self.padding, self.dilation))
        room = size + 2 * p - d * (k - 1) - 1
        if not self.ceil_mode:
            return room // s + 1
        out = -(-room // s) + 1
        return out - 1 if (out - 1) * s >= size + p else out  # the last window starts inside the image

    def formula(self, latex: bool = False) -> str:
        """'⌊(32 + 2·1 − 3)/2⌋ + 1 = 16', once when both axes agree, else 'H: … · W: …'."""
        texts = [self._axis_formula(axis, latex) for axis in (0, 1)]
        if texts[0] == texts[1]:
            return texts[0]
        return f"H: {texts[0]}, W: {texts[1]}" if latex else f"H: {texts[0]} · W: {texts[1]}"

    def _axis_formula(self, axis: int, latex: bool) -> str:
        size, k, s, p, d = (v[axis] for v in (self.input_size, self.kernel, self.stride, self.padding, self.dilation))
        span = str(k) if d == 1 else f"{d}·({k} − 1) − 1"
        inner = f"({size} + 2·{p} − {span})/{s}"
        out = self._side(axis)
        if latex:
            inner = inner.replace("·", r"\cdot ").replace("−", "-")
            bracket = (r"\lceil ", r"\rceil") if self.ceil_mode else (r"\lfloor ", r"\rfloor")
            return f"${bracket[0]}{inner}{bracket[1]} + 1 = {out}$"
        bracket = "⌈⌉" if self.ceil_mode else "⌊⌋"
        return f"{bracket[0]}{inner}{bracket[1]} + 1 = {out}"


def _pair(value) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) -> (3, 5); [2] -> (2, 2)."""
    if isinstance(value, int):
        return value, value
    value = tuple(int(v) for v in value)
    return (value[0], value[0]) if len(value) == 1 else value[-2:]


def _arg(args, kwargs, index: int, name: str, default=None):
    value = args[index] if len(args) > index else kwargs.get(name, default)
    return default if value is None else value


def window_of(name: str, args, kwargs) -> Window | None:
    """The window of a torch function call on an (N, C, H, W) map: conv2d, max_pool2d, avg_pool2d,
    or an adaptive pooling whose output size divides the input's (its kernel and stride are the quotient)."""
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        return None
    size = tuple(x.shape[2:])
    if name == "conv2d":
        kernel = tuple(_arg(args, kwargs, 1, "weight").shape[2:])
        stride, padding, dilation = (_arg(args, kwargs, i, n, dflt) for i, n, dflt in
                                     ((3, "stride", 1), (4, "padding", 0), (5, "dilation", 1)))
        if isinstance(padding, str):  # "valid" = 0; "same" pads d·(k − 1) in all, half of it first
            padding = 0 if padding == "valid" else tuple(d * (k - 1) // 2 for k, d in zip(kernel, _pair(dilation)))
        return Window(kernel, _pair(stride), _pair(padding), _pair(dilation), size)
    if name in ("max_pool2d", "max_pool2d_with_indices"):
        kernel = _pair(_arg(args, kwargs, 1, "kernel_size"))
        stride = _pair(_arg(args, kwargs, 2, "stride", kernel) or kernel)  # stride=[] means the kernel
        return Window(kernel, stride, _pair(_arg(args, kwargs, 3, "padding", 0)),
                      _pair(_arg(args, kwargs, 4, "dilation", 1)), size, bool(_arg(args, kwargs, 5, "ceil_mode", False)))
    if name == "avg_pool2d":
        kernel = _pair(_arg(args, kwargs, 1, "kernel_size"))
        stride = _pair(_arg(args, kwargs, 2, "stride", kernel) or kernel)
        return Window(kernel, stride, _pair(_arg(args, kwargs, 3, "padding", 0)), (1, 1), size,
                      bool(_arg(args, kwargs, 4, "ceil_mode", False)))
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):  # a window when the sizes divide
        wanted = _arg(args, kwargs, 1, "output_size")
        wanted = (wanted, wanted) if isinstance(wanted, int) else tuple(wanted)
        out = tuple(o or n for o, n in zip(wanted, size))  # None keeps that side
        if all(n % o == 0 for n, o in zip(size, out)):
            kernel = tuple(n // o for n, o in zip(size, out))
            return Window(kernel, kernel, (0, 0), (1, 1), size)
    return None


# What autograd keeps for backward, by function name (see the module docstring).
KEEPS_INPUT = {"conv1d", "conv2d", "conv3d", "linear", "batch_norm", "layer_norm", "group_norm", "instance_norm",
               "avg_pool2d", "gelu", "silu", "leaky_relu"}
KEEPS_OUTPUT = {"relu", "relu_", "sigmoid", "tanh", "softmax", "log_softmax"}
KEEPS_INPUT_AND_OUTPUT = {"amax", "amin"}
KEEPS_EVERY_INPUT = {"mul", "matmul", "mm", "bmm"}


def _bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def kept_by(name: str, args, kwargs, inputs: list, outputs: list) -> list:
    """[(tensor, bytes)] a function keeps for backward; tensor None: made for it alone (pooling indices)."""
    x = inputs[0] if inputs else None
    if name in KEEPS_INPUT and x is not None:
        return [(x, _bytes(x))]
    if name in KEEPS_OUTPUT and outputs:
        return [(outputs[0], _bytes(outputs[0]))]
    if name in KEEPS_INPUT_AND_OUTPUT and x is not None and outputs:
        return [(x, _bytes(x)), (outputs[0], _bytes(outputs[0]))]
    if name in KEEPS_EVERY_INPUT:
        return [(t, _bytes(t)) for t in inputs]
    if name == "adaptive_avg_pool2d" and x is not None and outputs and tuple(outputs[0].shape[2:]) != (1, 1):
        return [(x, _bytes(x))]  # (to 1×1 it is a mean, which keeps nothing)
    if name in ("max_pool2d", "max_pool2d_with_indices", "adaptive_max_pool2d") and x is not None and outputs:
        return [(x, _bytes(x)), (None, outputs[0].numel() * 8)]  # the int64 index of each maximum
    if name == "dropout" and x is not None and _arg(args, kwargs, 1, "p", 0.5) > 0:
        # Its mask (on the CPU a float tensor like x; CUDA's: a byte each), and its output: in
        # training a new tensor, which the layer after it (a conv or linear) keeps. The trace runs
        # in eval mode, where dropout returns x itself, so that layer would count nothing.
        return [(None, _bytes(x)), (None, _bytes(x))]
    return []


def _tensors(values) -> list[torch.Tensor]:
    """The tensors among `values` and in their lists and tuples (torch.cat's list, max's tuple)."""
    found = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, torch.Tensor))
    return found


class _TensorMap:
    """A dict keyed by tensor identity that keeps no tensor alive: a dead tensor's id may come
    back for a new tensor, and a weak reference tells the two apart."""

    def __init__(self):
        self._items: dict[int, tuple[weakref.ref, object]] = {}

    def get(self, tensor: torch.Tensor, default=None):
        ref, value = self._items.get(id(tensor), (None, default))
        return value if ref is not None and ref() is tensor else default

    def set(self, tensor: torch.Tensor, value) -> None:
        self._items[id(tensor)] = (weakref.ref(tensor), value)


class Ledger:
    """What one trace knows about the tensors it has seen: each one's receptive field, and which
    ones autograd would already keep for backward. `step` is called once per torch function."""

    def __init__(self, image: torch.Tensor):
        self.fields = _TensorMap()  # tensor -> Field, or UNKNOWN
        self.kept = _TensorMap()  # tensor (a view's base) -> True
        self.total = 0  # bytes kept for backward so far, per image
        if image.dim() == 4:
            self.fields.set(image, (Span(0, 0, 1), Span(0, 0, 1)))

    def field(self, tensor) -> Field | None:
        value = self.fields.get(tensor) if isinstance(tensor, torch.Tensor) else None
        return None if value is UNKNOWN else value

    def step(self, name: str, args, kwargs, out) -> tuple[Window | None, int]:
        """Record one call: its window (if it slides one) and the bytes it newly keeps, per image."""
        outputs = _tensors((out,))
        if not outputs:  # x.dim(), x.shape, …
            return None, 0
        inputs = _tensors((*args, *kwargs.values()))
        window = window_of(name, args, kwargs)
        kept = sum(self._keep(t, nbytes) for t, nbytes in kept_by(name, args, kwargs, inputs, outputs))
        self.total += kept
        fields = [(t, self.fields.get(t)) for t in inputs if self.fields.get(t) is not None]
        if fields:
            field = UNKNOWN if any(f is UNKNOWN for _, f in fields) else _field(name, args, window, fields, outputs[0])
            for t in outputs:
                self.fields.set(t, field)
        return window, kept

    def _keep(self, tensor: torch.Tensor | None, nbytes: int) -> int:
        if tensor is None:
            return nbytes
        base = tensor if tensor._base is None else tensor._base  # a view keeps its base's storage
        if isinstance(base, nn.Parameter) or self.kept.get(base):
            return 0  # weights are counted as weights; a tensor already kept costs nothing more
        self.kept.set(base, True)
        return _bytes(base)


def _field(name: str, args, window: Window | None, fields: list, out: torch.Tensor):
    """The output's receptive field from the inputs' (see the module docstring), or UNKNOWN."""
    first, field = fields[0]
    if window is not None and first is args[0]:
        return tuple(span.through(*(v[axis] for v in (window.kernel, window.stride, window.padding, window.dilation)))
                     for axis, span in enumerate(field))  # fmt: skip
    if name == "__getitem__" and out.dim() == 4 and first.dim() == 4:
        return _sliced(field, args[1])
    if name == "pad" and out.dim() == 4:  # (W before, W after, H before, H after, …): pixel i' was i' − before
        before = (list(_arg(args, {}, 1, "pad")) + [0] * 4)[2::-2]  # (H before, W before)
        return tuple(Span(s.lo - b * s.jump, s.hi - b * s.jump, s.jump) for s, b in zip(field, before))
    return _combined(fields, out)


def _combined(fields: list, out: torch.Tensor):
    """Every other step. An input map of the output's size keeps its positions (elementwise steps,
    sums, concatenations: the union per position); any other input is seen whole (reductions,
    flatten, linear, a (N, C, 1, 1) broadcast); a map of yet another size makes the field UNKNOWN."""
    spatial = tuple(out.shape[2:]) if out.dim() == 4 else None
    spans = []
    for t, field in fields:
        size = tuple(t.shape[2:]) if t.dim() == 4 else (1, 1)
        if spatial is not None and size == spatial:
            spans.append(field)
        elif spatial is None or size == (1, 1) or spatial == (1, 1):
            spans.append(tuple(span.whole(n) for span, n in zip(field, size)))
        else:
            return UNKNOWN  # a map changed size in a step without a rule (an upsampling)
    positions = spatial or (1, 1)
    united = [_union([field[axis] for field in spans], positions[axis]) for axis in (0, 1)]
    return UNKNOWN if None in united else tuple(united)


def _union(spans: list[Span], positions: int) -> Span | None:
    """The pixels any of the spans sees. A map combined with something global (jump 0) sees it all at
    every position, so each span is taken whole; different non-zero jumps have no rule (None)."""
    jumps = {span.jump for span in spans}
    if len(jumps - {0}) > 1:
        return None
    if len(jumps) > 1:
        spans = [span.whole(positions) for span in spans]
    return Span(min(s.lo for s in spans), max(s.hi for s in spans), spans[0].jump)


def _sliced(field: Field, index):
    """x[:, :, a::s, b::t]: position i' was position a + i'·s."""
    index = index if isinstance(index, tuple) else (index,)
    if len(index) > 4 or any(not isinstance(i, slice) for i in index):
        return UNKNOWN  # integers, tensors, Ellipsis or None in the index: no rule
    spans = []
    for span, part in zip(field, list(index[2:]) + [slice(None)] * (4 - len(index))):
        start, step = part.start or 0, part.step or 1
        if start < 0 or step < 1:
            return UNKNOWN
        spans.append(Span(span.lo + start * span.jump, span.hi + start * span.jump, step * span.jump))
    return tuple(spans)


# --------------------------------------------------------------------------------------------
# Training memory and time
# --------------------------------------------------------------------------------------------

# Optimizer state, in copies of the weights: torch.optim keeps a momentum buffer (SGD with
# momentum), Adam the running means of g and g², RMSprop the running mean of g² (and a momentum
# buffer with momentum > 0). Names as cnnzoo.trainer's optimizers, "+momentum" for momentum > 0.
OPTIMIZER_STATE = {"sgd": 0, "sgd+momentum": 1, "adam": 2, "rmsprop": 1, "rmsprop+momentum": 2}


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes one training step holds at its peak (just before backward frees the activations).

    Not counted: the few bytes per parameter tensor of Adam's step counters, the batch-norm
    buffers, the transient gradients of activations during backward, and the framework's own
    workspace; on a GPU under mixed precision the activations take about half.
    """

    weights: int
    gradients: int  # one per weight
    optimizer_state: int
    activations: int  # what autograd keeps for backward, for the whole batch
    batch_size: int
    optimizer: str

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.activations


def training_memory(result, batch_size: int, optimizer: str = "sgd+momentum") -> TrainingMemory:
    """The memory of training the traced network: weights, their gradients, the optimizer's state
    (OPTIMIZER_STATE copies of the weights) and the activations kept for backward × batch_size."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, e.g. 128; got {batch_size!r}")
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZER_STATE)}; got {optimizer!r}")
    weights = result.param_bytes
    return TrainingMemory(weights=weights, gradients=weights, optimizer_state=OPTIMIZER_STATE[optimizer] * weights,
                          activations=result.saved_bytes * batch_size, batch_size=batch_size, optimizer=optimizer)


@dataclass(frozen=True)
class EpochEstimate:
    """seconds ≈ MACs per image · (3 · training images + test images) / rate.

    A training step costs about three forward passes (the backward pass computes the gradients of
    both the activations and the weights, each as costly as the forward), the test set is seen
    once per epoch; `rate` is the training MACs per second this machine sustained on a small
    reference CNN (cnnzoo.compute.training_rate). Networks that move much memory per MAC (DenseNet,
    depthwise convolutions) run slower than it says, very small ones too: an estimate, within ~2×.
    """

    seconds: float
    dataset: str
    train_images: int
    test_images: int
    macs_per_image: int
    rate: float  # training MACs per second
    device: str


def epoch_estimate(result, dataset: str, train_subset: int | None = None, device: str = "auto") -> EpochEstimate:
    """How long one epoch of training the traced network on `dataset` takes on this machine."""
    from cnnzoo.compute import pick_device, training_rate  # the rate is measured on first use
    from cnnzoo.data import dataset_info

    info = dataset_info(dataset)
    if info["train_size"] is None:
        raise ValueError(f"The size of the {dataset!r} dataset is known only once it is uploaded: "
                         f"choose a built-in or torchvision dataset for an estimate.")
    train_images = min(train_subset, info["train_size"]) if train_subset else info["train_size"]
    rate = training_rate(device)
    seconds = result.total_macs * (3 * train_images + info["test_size"]) / rate
    return EpochEstimate(seconds, dataset, train_images, info["test_size"], result.total_macs, rate, str(pick_device(device)))


# --------------------------------------------------------------------------------------------
# The table, for papers and spreadsheets
# --------------------------------------------------------------------------------------------


def format_bytes(count: float) -> str:
    """1536 -> '1.5 kB', 35_651_584 -> '35.7 MB' (powers of 1000, as disks and torch docs count)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


def pair_text(pair) -> str:
    """(3, 3) -> '3', (3, 1) -> '3×1', None -> ''."""
    return "" if pair is None else str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def field_text(row) -> tuple[str, str]:
    """(receptive field, jump) of a row as they read: ('435', '32'), ('whole input', '–'), ('?', '?')."""
    if row.field is None:
        return "?", "?"
    if row.jump == (0, 0):
        return "whole input", "–"
    return pair_text(row.receptive_field), pair_text(row.jump)


def export_rows(result, batch_size: int = 1) -> list[dict]:
    """One dict per layer, every column of the Shapes tab's two tables; numbers stay numbers."""
    rows = []
    for i, row in enumerate(result.rows, 1):
        window = row.window
        field, jump = field_text(row)
        rows.append({
            "#": i, "layer": row.name, "type": row.layer_type, "output": "×".join(map(str, row.output_shape[1:])),
            "params": row.params, "MACs": row.macs, "kernel": pair_text(row.kernel), "stride": pair_text(row.stride),
            "padding": pair_text(row.padding), "dilation": pair_text(row.dilation),
            "output size": window.formula() if window else "", "receptive field": field, "jump": jump,
            f"kept for backward (bytes, batch {batch_size})": row.saved_bytes * batch_size,
        })  # fmt: skip
    return rows


def to_csv(result, batch_size: int = 1) -> str:
    rows = export_rows(result, batch_size)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_markdown(result, batch_size: int = 1) -> str:
    """A GitHub-flavoured Markdown table, numbers with thousands separators, right-aligned."""
    rows = export_rows(result, batch_size)
    if not rows:
        return ""
    columns = list(rows[0])
    cell = lambda v: f"{v:,}" if isinstance(v, int) else str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if isinstance(rows[0][c], int) else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "×": r"$\times$", "–": "--"}  # fmt: skip


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def to_latex(result, batch_size: int = 1) -> str:
    """A booktabs tabular (\\usepackage{booktabs}); the output-size formulas in math mode."""
    rows = export_rows(result, batch_size)
    if not rows:
        return ""
    columns = list(rows[0])
    align = "".join("r" if isinstance(rows[0][c], int) else "l" for c in columns)
    lines = [f"\\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(_latex(c) for c in columns) + r" \\", r"\midrule"]
    for row, trace_row in zip(rows, result.rows):
        cells = [f"{row[c]:,}".replace(",", "{,}") if isinstance(row[c], int) else _latex(str(row[c])) for c in columns]
        cells[columns.index("output size")] = trace_row.window.formula(latex=True) if trace_row.window else ""
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
