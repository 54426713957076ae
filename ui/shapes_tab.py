"""The Shapes tab: pick a network and an input, see every layer's shape, parameters and MACs;
below, the trace as a calculator: each layer's window, output-size formula, receptive field and
memory kept for backward, the memory and time of training, and the table for download.

Run alone with `python -m ui.shapes_tab`; app.py renders `build_demo()` as its first tab.

Handlers are thin adapters over cnnzoo.trace and cnnzoo.trace_calc. Models are built per request
on PyTorch's "meta" device: tensors with a shape and no memory, so tracing even WRN-1000-20
(6.4 B parameters) costs no RAM and no weight initialisation, and every request stays light.
"""
from __future__ import annotations

import re

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from cnnzoo import list_models, model_info, model_knobs
from cnnzoo.data import dataset_names
from cnnzoo.files import atomic_write
from cnnzoo.trace import TraceResult, reduction_arithmetic
from cnnzoo.trace_calc import (
    OPTIMIZER_STATE, TrainingMemory, epoch_estimate, field_text, format_bytes, pair_text, to_csv, to_latex,
    to_markdown, training_memory,
)  # fmt: skip
from cnnzoo.cache import KeyedCache
from ui.calculator import TRACE_CONCURRENCY, estimate_text, form_triggers, meta_trace, trace_key
from ui.common import (
    KNOBS, LIGHT, NumberField, chosen_knobs, controls_and_view, drawn, human, knob_controls, knob_updates, natural_input,
    serve, user_errors,
)  # fmt: skip
from ui.sessions import session_for

# The calculator's optimizers: (label, cnnzoo.trace_calc.OPTIMIZER_STATE key).
OPTIMIZERS = [("SGD with momentum", "sgd+momentum"), ("SGD", "sgd"), ("Adam", "adam"), ("RMSprop", "rmsprop"),
              ("RMSprop with momentum", "rmsprop+momentum")]  # fmt: skip
assert {value for _, value in OPTIMIZERS} == set(OPTIMIZER_STATE)
TIMED_DATASETS = [name for name in dataset_names() if name != "folder"]  # those whose size is known
INPUT = {"channels": NumberField("input channels", int, 1, 64), "height": NumberField("height", int, 1, 1024),
         "width": NumberField("width", int, 1, 1024)}
BATCH = NumberField("batch size", int, 1, 65_536)


def default_model() -> str:
    names = list_models(kind="classifier")
    return "resnet20" if "resnet20" in names else "simple_cnn"


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def trace_model(**form):
    """Trace the network `model_name` built with the form's knobs (those it lacks are ignored) on one
    input_channels × input_height × input_width input. The parameters are the form's fields:
    model_name, input_channels, input_height, input_width and the knobs (depth, widen_factor, …).

    Returns the per-layer table, the totals (Markdown) and the feature-map-size figure.
    """
    return _views(*_form_trace(form))


def select_model(model_name: str):
    """Show the chosen model's knobs at their defaults, its natural input, and its trace. A network
    made for ImageNet opens with its 1000 classes, so its parameters are the paper's (25.6 M for
    ResNet-50, not 23.5 M with the builder's 10)."""
    with user_errors():  # an unknown name, from the API
        imagenet = model_info(model_name)["normalisation"] == "imagenet"
    shown = {"num_classes": 1000} if imagenet else {}
    updates = knob_updates(model_name, values=shown)
    input_size = natural_input(model_name)
    knobs = {name: value for name, value in {**model_knobs(model_name), **shown}.items() if name in KNOBS}
    with user_errors():
        result = meta_trace(model_name, knobs, input_size)
    return *updates, *input_size, *_views(model_name, knobs, input_size, result)


# What a trace shows (its table, totals and drawn figure) is made once per trace and shared, as the
# trace is (ui.calculator): a class re-opening the same networks waits for neither.
_shown: KeyedCache[tuple] = KeyedCache(max_entries=64)


def _views(model_name: str, knobs: dict, input_size: tuple, result: TraceResult) -> tuple:
    return _shown.get(trace_key(model_name, knobs, input_size), lambda: (
        layer_table(result), totals_text(model_name, result), drawn(shape_figure(model_name, result))))


def _form_trace(form: dict) -> tuple[str, dict, tuple, TraceResult]:
    """The network, knobs, input and trace the form describes (the fields of trace_model); gr.Error
    if impossible."""
    with user_errors():  # an unknown name, from the API; a field out of range
        model_name = form["model_name"]
        knobs = chosen_knobs(model_name, {name: form.get(name) for name in KNOBS})
        input_size = tuple(INPUT[side].read(form.get(f"input_{side}")) for side in ("channels", "height", "width"))
        return model_name, knobs, input_size, meta_trace(model_name, knobs, input_size)


def calculate(**form):
    """The trace as a calculator, for trace_model's fields plus batch_size, optimizer (sgd+momentum,
    sgd, adam, rmsprop, rmsprop+momentum) and dataset (for the time per epoch).

    Returns the training memory and time (Markdown) and the per-layer calculator table: window
    (kernel / stride / padding), output-size formula, receptive field, jump, memory kept for backward.
    """
    *_, result = _form_trace(form)
    with user_errors():
        batch_size = BATCH.read(form.get("batch_size"))
        memory = training_memory(result, batch_size, form.get("optimizer") or "sgd+momentum")
        estimate = epoch_estimate(result, form.get("dataset") or "cifar10")
    return memory_text(result, memory) + "\n\n" + estimate_text(estimate), calculator_table(result, batch_size)


def export_table(request: gr.Request = None, **form) -> list[str]:
    """Both tables of the Shapes tab in one, for trace_model's fields plus batch_size: three files,
    Markdown (.md), LaTeX (.tex, a booktabs tabular) and CSV (.csv), in this session's folder."""
    model_name, *_, result = _form_trace(form)
    with user_errors():
        batch_size = BATCH.read(form.get("batch_size"))
    folder = session_for(request).subfolder("shapes")
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", model_name) + "-" + "x".join(map(str, result.input_size))
    return [str(atomic_write(folder / f"{stem}-layers{suffix}", write(result, batch_size), durable=False))
            for suffix, write in ((".md", to_markdown), (".tex", to_latex), (".csv", to_csv))]


def reduction_calculator(in_channels, out_channels, kernel_size, reduce_channels, height, width) -> str:
    """Weights and multiplications of a k×k conv, direct vs. after a 1×1 reduction (Markdown)."""
    try:
        cost = reduction_arithmetic(in_channels, out_channels, kernel_size, reduce_channels, height, width)
    except ValueError as err:  # a half-typed number while the user edits: say so, no popup
        return f"*{err}*"
    k = f"{kernel_size}×{kernel_size}"
    return f"""
On a {height}×{width}×{in_channels} input, to get {out_channels} channels ("same" padding, weights only):

| | weights | multiplications |
|---|---:|---:|
| direct {k} conv, {in_channels} → {out_channels} | {cost.direct_params:,} | {cost.direct_mults:,} ({human(cost.direct_mults)}) |
| 1×1 conv, {in_channels} → {reduce_channels} | {cost.reduce_params:,} | {cost.reduce_mults:,} ({human(cost.reduce_mults)}) |
| then {k} conv, {reduce_channels} → {out_channels} | {cost.conv_params:,} | {cost.conv_mults:,} ({human(cost.conv_mults)}) |
| **with the 1×1 reduction** | **{cost.reduced_params:,}** | **{cost.reduced_mults:,} ({human(cost.reduced_mults)})** |

The reduction needs **{cost.params_ratio:.1f}× fewer weights** and **{cost.mults_ratio:.1f}× fewer
multiplications**: each output of a {k} conv costs {k}·(input channels) multiplications, so
squeezing the channels first pays off.
"""


# ---------------------------------------------------------------------------------------------
# Views of a TraceResult
# ---------------------------------------------------------------------------------------------


def shape_text(shape: tuple[int, ...]) -> str:
    """(1, 64, 8, 8) -> '64 × 8 × 8': the batch of one is left out."""
    return " × ".join(map(str, shape[1:]))


def layer_table(result: TraceResult):
    """One row per layer; the numbers stay numbers for API clients and read with commas. The key
    columns (output, params, MACs) come right after the layer's name, which stays in view (pinned)
    while a phone scrolls the table to the right."""
    table = pd.DataFrame(
        {
            "#": range(1, len(result.rows) + 1),
            "layer": [row.name for row in result.rows],
            "output (C × H × W)": [shape_text(row.output_shape) for row in result.rows],
            "params": [row.params for row in result.rows],
            "MACs": [row.macs for row in result.rows],
            "type": [row.layer_type for row in result.rows],  # last: on a phone the numbers come first
        }
    )
    return table.style.format({"params": "{:,}", "MACs": "{:,}"}).hide(axis="index")


def calculator_table(result: TraceResult, batch_size: int):
    """The calculator's columns, one row per layer (the # of the layer table)."""
    def window(row) -> str:
        if row.window is None:
            return ""
        text = " / ".join(pair_text(v) for v in (row.kernel, row.stride, row.padding))
        return text + (f" · d {pair_text(row.dilation)}" if row.dilation != (1, 1) else "")

    fields = [field_text(row) for row in result.rows]
    return pd.DataFrame({
        "#": range(1, len(result.rows) + 1),
        "layer": [row.name for row in result.rows],
        "k / s / p": [window(row) for row in result.rows],
        "output size": [row.window.formula() if row.window else "" for row in result.rows],
        "RF": [field for field, _ in fields],
        "jump": [jump for _, jump in fields],
        f"kept, batch {batch_size}": [format_bytes(row.saved_bytes * batch_size) if row.saved_bytes else ""
                                      for row in result.rows],
    })  # fmt: skip


def memory_text(result: TraceResult, memory: TrainingMemory) -> str:
    """The training memory as a small Markdown table, and the last feature map's receptive field."""
    label = dict((value, label) for label, value in OPTIMIZERS)[memory.optimizer]
    copies = OPTIMIZER_STATE[memory.optimizer]
    return last_field_text(result) + f"""**Training memory** at batch {memory.batch_size}, {label}, fp32:

| one training step holds | |
|---|---:|
| weights | {_unbroken(memory.weights)} |
| gradients, one per weight | {_unbroken(memory.gradients)} |
| optimizer state, {copies} × the weights | {_unbroken(memory.optimizer_state)} |
| activations kept for backward, {memory.batch_size} × {format_bytes(result.saved_bytes)} | {_unbroken(memory.activations)} |
| **total** | **{_unbroken(memory.total)}** |"""


def last_field_text(result: TraceResult) -> str:
    """What one position of the last feature map sees, as a sentence (or nothing, if unknown)."""
    maps = [row for row in result.rows if len(row.output_shape) == 4 and row.field]
    if not maps or maps[-1].jump == (0, 0):
        return ""
    (height, width), (jump_h, jump_w) = maps[-1].receptive_field, maps[-1].jump
    apart = f"{jump_h}" if jump_h == jump_w else f"{jump_h} × {jump_w}"
    return (f"The last feature map's positions each see **{height} × {width} input pixels** (receptive field, "
            f"unclipped), {apart} pixels apart, on a {result.input_size[1]} × {result.input_size[2]} input.\n\n")


def _unbroken(count: int) -> str:
    """'1.1 MB' with a no-break space: on a phone the number and its unit stay on one line."""
    return format_bytes(count).replace(" ", "\u00a0")


def totals_text(model_name: str, result: TraceResult) -> str:
    feature_maps = [row.output_shape for row in result.rows if len(row.output_shape) == 4]
    last_map = f" · last feature map **{shape_text(feature_maps[-1])}**" if feature_maps else ""
    return (
        f"**{model_name}** on a **{' × '.join(map(str, result.input_size))}** input: "
        f"**{human(result.total_params)} parameters** ({result.total_params:,}) · "
        f"**{human(result.total_macs)} MACs** ({result.total_macs:,} multiply-accumulates, "
        f"≈ {human(2 * result.total_macs)} FLOPs) · {len(result.rows)} layers{last_map} · "
        f"output **{shape_text(result.output_shape)}**"
    )


def shape_figure(model_name: str, result: TraceResult) -> Figure:
    """Channels and height of every feature map, in execution order (log₂ axes).

    Functional steps (a dense block's torch.cat, ...) are marked: in a DenseNet they are the
    dots that climb, one growth rate per layer, while each conv's own output stays narrow.
    """
    maps = [(i, row) for i, row in enumerate(result.rows, 1) if len(row.output_shape) == 4]
    fig = Figure(figsize=(9, 5.4), layout="constrained")
    channels_ax, size_ax = fig.subplots(2, 1, sharex=True)
    for ax, dim, label, color in [(channels_ax, 1, "channels C", "tab:blue"), (size_ax, 2, "height H", "tab:orange")]:
        if not maps:
            break
        steps = [0] + [i for i, _ in maps]  # step 0 is the input image
        values = [result.input_size[dim - 1]] + [row.output_shape[dim] for _, row in maps]
        ax.step(steps, values, where="post", color=color, linewidth=1, alpha=0.35)
        ax.plot(steps, values, ".", color=color, markersize=4, label="layer output")
        functional = [(i, row.output_shape[dim]) for i, row in maps if row.layer_type.endswith("()")]
        if functional and ax is channels_ax:  # where concatenation shows; heights stay put
            ax.plot(*zip(*functional), "o", color="tab:red", markersize=5, label="functional step (cat, …)")
            ax.legend(loc="best", fontsize="small")
        ax.set_yscale("log", base=2)
        ticks = sorted(set(values))
        if len(ticks) > 8:  # keep the labels readable: powers of two only
            ticks = [2**p for p in range(ticks[0].bit_length() - 1, ticks[-1].bit_length())]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticklabels([str(t) for t in ticks])
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    size_ax.set_xlabel("layer # (execution order, as in the table; 0 = the input)")
    channels_ax.set_title(f"{model_name}: feature maps through the network")
    return fig


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


INTRO = """Pick a network and an input size: every layer's **output shape**, **parameters** and
**multiply-accumulates** (MACs), in the order the layers run. Change a knob and press Enter (or
click elsewhere) to see what it does to the network."""


def form_controls() -> dict:
    """The network, its knobs and the input: the parameters of trace_model, by name."""
    c = {"model_name": gr.Dropdown(list_models(kind="classifier"), value=default_model(), label="network", filterable=True)}
    c.update(knob_controls())
    with gr.Row():
        for side, value in (("channels", 3), ("height", 32), ("width", 32)):
            c[f"input_{side}"] = INPUT[side].control(value, min_width=80)
    return c


def view_components() -> dict:
    return {"totals": gr.Markdown(label="totals", elem_id="shapes-totals", elem_classes="cnnzoo-totals"),
            "plot": gr.Plot(label="feature map size through the network", show_label=False, format="png")}


CALCULATOR_INTRO = """Each convolution and pooling slides a window (kernel **k**, stride **s**, padding **p**)
and outputs ⌊(H + 2p − k)/s⌋ + 1 positions. The **receptive field** (RF) is how many input pixels one
output position sees (unclipped, as papers quote it), the **jump** how far apart neighbouring
positions are, in input pixels. In training, autograd **keeps** some activations for the backward
pass (a convolution its input, batch norm its input, ReLU its output): each tensor is counted once,
at the layer that keeps it first."""


def calculator_components() -> dict:
    """The calculator section: its settings, the memory and time, its table, the downloads."""
    c = {}
    with gr.Accordion("The trace as a calculator: windows, receptive fields, memory and time", open=True,
                      elem_id="shapes-calculator-section"):
        gr.Markdown(CALCULATOR_INTRO)
        with gr.Row():
            # min_width: one control a line on a phone, all three on one line from a tablet up
            c["batch_size"] = BATCH.control(128, min_width=140, elem_id="shapes-batch")
            c["optimizer"] = gr.Dropdown(OPTIMIZERS, value="sgd+momentum", label="optimizer", min_width=220,
                                         elem_id="shapes-optimizer")
            c["dataset"] = gr.Dropdown(TIMED_DATASETS, value="cifar10", label="dataset (for the time per epoch)",
                                       min_width=220, elem_id="shapes-dataset")
        c["memory"] = gr.Markdown(elem_id="shapes-memory")
        c["calculator"] = gr.Dataframe(
            label="per layer", interactive=False, max_height=560, elem_id="shapes-calculator",
            elem_classes=["cnnzoo-table", "cnnzoo-pinned"], show_search="search", buttons=["copy", "fullscreen"],
        )  # fmt: skip
        c["export"] = gr.Button("Export both tables (Markdown, LaTeX, CSV)", size="md")
        c["files"] = gr.File(label="the tables", file_count="multiple", interactive=False, elem_id="shapes-files",
                             visible=False)  # shown by the first export
    return c


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · shapes") as demo:
        gr.Markdown(INTRO)
        c = controls_and_view(form_controls, view_components, view_scale=3)
        form = {name: c[name] for name in ("model_name", "input_channels", "input_height", "input_width", *KNOBS)}
        model, channels, height, width = (c[name] for name in ("model_name", "input_channels", "input_height", "input_width"))
        knobs, totals, plot = {name: c[name] for name in KNOBS}, c["totals"], c["plot"]
        table = gr.Dataframe(
            label="layers", interactive=False, max_height=560, elem_id="shapes-table",
            elem_classes=["cnnzoo-table", "cnnzoo-pinned"], show_search="search", buttons=["copy", "fullscreen"],
        )  # fmt: skip
        calc = calculator_components()

        with gr.Accordion("Why 1×1 convolutions? The Inception module's reduction arithmetic", open=True):
            gr.Markdown(
                "GoogLeNet (Szegedy et al. 2014) puts a 1×1 convolution before its 3×3 and 5×5 "
                "convolutions to cut the channels they read. The numbers open on the Inception "
                "post's own example (192 → 32 before a 5×5 to 32: 31,744 weights, ≈4.8× fewer); "
                "the often-quoted GoogLeNet-lecture version reduces to 16 (15,872, ≈9.7×). Choose "
                "`googlenet_small` above to see such modules in the table:"
            )
            with gr.Row():
                r_in = gr.Number(192, label="input channels", precision=0, min_width=90)
                r_out = gr.Number(32, label="output channels", precision=0, min_width=90)
                r_kernel = gr.Number(5, label="kernel k", precision=0, min_width=90)
                r_reduce = gr.Number(32, label="1×1 reduces to", precision=0, min_width=90)
                r_height = gr.Number(28, label="height", precision=0, min_width=90)
                r_width = gr.Number(28, label="width", precision=0, min_width=90)
            reduction_out = gr.Markdown(label="reduction arithmetic")

        knob_inputs = [knobs[name] for name in KNOBS]
        view = [table, totals, plot]
        # Choosing a model resets its knobs and input to defaults and traces it in one step, so
        # no trace runs with the previous model's knobs (WRN depth 20 would be an error).
        selected = gr.on(
            [model.change, demo.load], select_model, inputs=model,
            outputs=[*knob_inputs, channels, height, width, *view],
            api_name="select_model", show_progress="minimal", **TRACE_CONCURRENCY,
        )  # fmt: skip
        # Numbers trace on Enter or when focus leaves (see form_triggers). Programmatic updates
        # (select_model) fire none of these, so they do not trace twice.
        traced = gr.on(
            form_triggers([*knob_inputs, channels, height, width]), trace_model, inputs_kwargs=form, outputs=view,
            api_name="trace", trigger_mode="always_last", show_progress="minimal", **TRACE_CONCURRENCY,
        )  # fmt: skip
        wire_calculator(calc, form, after=[selected, traced])

        reduction_inputs = [r_in, r_out, r_kernel, r_reduce, r_height, r_width]
        gr.on(
            [*(c.change for c in reduction_inputs), demo.load], reduction_calculator,
            inputs=reduction_inputs, outputs=reduction_out, api_name="reduction",
            trigger_mode="always_last", show_progress="hidden", **LIGHT,  # microseconds of arithmetic
        )  # fmt: skip
    return demo


def wire_calculator(calc: dict, form: dict, after: list) -> None:
    """The calculator follows every trace (after it succeeded: a bad knob shows one error, not two)
    and its own settings; the export button writes the files."""
    inputs = {**form, **{name: calc[name] for name in ("batch_size", "optimizer", "dataset")}}
    outputs = [calc["memory"], calc["calculator"]]
    for event in after:
        event.success(calculate, inputs_kwargs=inputs, outputs=outputs, api_visibility="private",
                      show_progress="minimal", **TRACE_CONCURRENCY)
    gr.on(form_triggers([calc["batch_size"], calc["optimizer"], calc["dataset"]]), calculate, inputs_kwargs=inputs,
          outputs=outputs, api_name="calculator", trigger_mode="always_last", show_progress="minimal", **TRACE_CONCURRENCY)
    calc["export"].click(export_table, inputs_kwargs={**form, "batch_size": calc["batch_size"]}, outputs=calc["files"],
                         api_name="trace_export", **TRACE_CONCURRENCY).success(
        lambda: gr.update(visible=True), None, calc["files"], api_visibility="private", **LIGHT)  # empty, it stays hidden


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
