"""The Shapes tab: pick a network and an input, see every layer's shape, parameters and MACs.

Run alone with `python -m ui.shapes_tab`; app.py renders `build_demo()` as its first tab.

Handlers are thin adapters over cnnzoo.trace. Models are built per request on PyTorch's
"meta" device: tensors with a shape and no memory, so tracing even WRN-1000-20 (6.4 B
parameters) costs no RAM and no weight initialisation, and every request stays light.
"""
from __future__ import annotations

import gradio as gr
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from cnnzoo import create_model, list_models, model_info, model_knobs
from cnnzoo.trace import TraceResult, reduction_arithmetic, trace
from ui.common import (
    KNOBS, LIGHT, chosen_knobs, controls_and_view, form_number, human, knob_controls, knob_updates, natural_input,
    serve, user_errors,
)  # fmt: skip

# Every trace event shares one pool of workers. The work is Python-bound (GIL), so more
# threads would not finish sooner; four let a quick request overlap a slow one (a 1,000-layer
# net takes seconds) instead of queueing behind it, while the queue stays bounded.
TRACE_CONCURRENCY = dict(concurrency_id="trace", concurrency_limit=4)


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
    with user_errors():  # an unknown name, from the API
        model_name = form["model_name"]
        knobs = chosen_knobs(model_name, {name: form.get(name) for name in KNOBS})
        input_size = tuple(form_number(form, f"input_{side}", int) for side in ("channels", "height", "width"))
    return _trace_view(model_name, knobs, input_size)


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
    return *updates, *input_size, *_trace_view(model_name, knobs, input_size)


def _trace_view(model_name: str, knobs: dict, input_size: tuple):
    with user_errors():
        if "in_channels" in model_knobs(model_name):
            knobs = {**knobs, "in_channels": input_size[0]}
        with torch.device("meta"):  # shapes only: no memory, no weight initialisation
            model = create_model(model_name, **knobs)
        result = trace(model, input_size, device="meta")
    return layer_table(result), totals_text(model_name, result), shape_figure(model_name, result)


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
    """One row per layer; the numbers stay numbers for API clients and read with commas."""
    table = pd.DataFrame(
        {
            "#": range(1, len(result.rows) + 1),
            "layer": [row.name for row in result.rows],
            "type": [row.layer_type for row in result.rows],
            "output (C × H × W)": [shape_text(row.output_shape) for row in result.rows],
            "params": [row.params for row in result.rows],
            "MACs": [row.macs for row in result.rows],
        }
    )
    return table.style.format({"params": "{:,}", "MACs": "{:,}"}).hide(axis="index")


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
        c["input_channels"] = gr.Number(3, label="input channels", precision=0, minimum=1, maximum=64, min_width=80)
        c["input_height"] = gr.Number(32, label="height", precision=0, minimum=1, maximum=1024, min_width=80)
        c["input_width"] = gr.Number(32, label="width", precision=0, minimum=1, maximum=1024, min_width=80)
    return c


def view_components() -> dict:
    return {"totals": gr.Markdown(label="totals", elem_id="shapes-totals", elem_classes="cnnzoo-totals"),
            "plot": gr.Plot(label="feature map size through the network", show_label=False, format="png")}


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · shapes") as demo:
        gr.Markdown(INTRO)
        c = controls_and_view(form_controls, view_components, view_scale=3)
        form = {name: c[name] for name in ("model_name", "input_channels", "input_height", "input_width", *KNOBS)}
        model, channels, height, width = (c[name] for name in ("model_name", "input_channels", "input_height", "input_width"))
        knobs, totals, plot = {name: c[name] for name in KNOBS}, c["totals"], c["plot"]
        table = gr.Dataframe(
            label="layers", interactive=False, max_height=560, elem_id="shapes-table", elem_classes="cnnzoo-table",
            show_search="search", buttons=["copy", "fullscreen"],
        )  # fmt: skip

        with gr.Accordion("Why 1×1 convolutions? The Inception module's reduction arithmetic", open=True):
            gr.Markdown(
                "GoogLeNet (Szegedy et al. 2014) puts a 1×1 convolution before its 3×3 and 5×5 "
                "convolutions to cut the channels they read. The numbers (choose "
                "`googlenet_small` above to see such modules in the table):"
            )
            with gr.Row():
                r_in = gr.Number(192, label="input channels", precision=0, min_width=90)
                r_out = gr.Number(32, label="output channels", precision=0, min_width=90)
                r_kernel = gr.Number(5, label="kernel k", precision=0, min_width=90)
                r_reduce = gr.Number(16, label="1×1 reduces to", precision=0, min_width=90)
                r_height = gr.Number(28, label="height", precision=0, min_width=90)
                r_width = gr.Number(28, label="width", precision=0, min_width=90)
            reduction_out = gr.Markdown(label="reduction arithmetic")

        knob_inputs = [knobs[name] for name in KNOBS]
        view = [table, totals, plot]
        # Choosing a model resets its knobs and input to defaults and traces it in one step, so
        # no trace runs with the previous model's knobs (WRN depth 20 would be an error).
        gr.on(
            [model.change, demo.load], select_model, inputs=model,
            outputs=[*knob_inputs, channels, height, width, *view],
            api_name="select_model", show_progress="minimal", **TRACE_CONCURRENCY,
        )  # fmt: skip
        # Numbers trace on Enter or when focus leaves: .change fires on every keystroke, and
        # typing 110 would trace depth 1 and 11 first and flash two errors. Programmatic
        # updates (select_model) fire neither, so they do not trace twice.
        number_inputs = [c for c in (*knob_inputs, channels, height, width) if isinstance(c, gr.Number)]
        triggers = [event for c in number_inputs for event in (c.submit, c.blur)]
        triggers += [c.input for c in knob_inputs if isinstance(c, (gr.Radio, gr.Checkbox))]
        triggers += [c.release for c in knob_inputs if isinstance(c, gr.Slider)]
        gr.on(
            triggers, trace_model, inputs_kwargs=form, outputs=view,
            api_name="trace", trigger_mode="always_last", show_progress="minimal", **TRACE_CONCURRENCY,
        )  # fmt: skip

        reduction_inputs = [r_in, r_out, r_kernel, r_reduce, r_height, r_width]
        gr.on(
            [*(c.change for c in reduction_inputs), demo.load], reduction_calculator,
            inputs=reduction_inputs, outputs=reduction_out, api_name="reduction",
            trigger_mode="always_last", show_progress="hidden", **LIGHT,  # microseconds of arithmetic
        )  # fmt: skip
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
