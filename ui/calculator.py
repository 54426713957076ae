"""What the Shapes and Train tabs share of the trace as a calculator: a model traced on the meta
device, and the estimated time of an epoch (cnnzoo.trace_calc.epoch_estimate) as it reads.

The Train tab shows the estimate next to its form, before anyone presses Train; the Shapes tab in
its calculator section. Both estimates are the core's: MACs per image × images ÷ a training rate
measured once per process (cnnzoo.compute.training_rate).
"""
from __future__ import annotations

import html

import gradio as gr
import torch

from cnnzoo import create_model, model_knobs
from cnnzoo.cache import KeyedCache
from cnnzoo.data import dataset_info
from cnnzoo.trace import TraceResult, trace
from cnnzoo.trace_calc import EpochEstimate, epoch_estimate
from ui.common import KNOBS, chosen_knobs, duration, human

# Every trace event of the app shares one pool of workers. The work is Python-bound (GIL), so more
# threads would not finish sooner; four let a quick request overlap a slow one (a 1,000-layer
# net takes seconds) instead of queueing behind it, while the queue stays bounded.
TRACE_CONCURRENCY = dict(concurrency_id="trace", concurrency_limit=4)


# A class traces the same few networks over and over: each (network, knobs, input) is traced once
# (a ResNet-56 takes about a second of the GIL) and shared by every page; shared, so never mutated.
_traces: KeyedCache[TraceResult] = KeyedCache(max_entries=64)


def trace_knobs(model_name: str, knobs: dict, input_size: tuple) -> dict:
    """The knobs a trace builds the network with: its input channels follow input_size[0]."""
    return {**knobs, "in_channels": input_size[0]} if "in_channels" in model_knobs(model_name) else knobs


def trace_key(model_name: str, knobs: dict, input_size: tuple) -> tuple:
    """What makes a trace (and anything drawn from it alone) the same: network, knobs, input."""
    return model_name, tuple(sorted(trace_knobs(model_name, knobs, input_size).items())), tuple(input_size)


def meta_trace(model_name: str, knobs: dict, input_size: tuple) -> TraceResult:
    """Trace `model_name` built with `knobs` on PyTorch's "meta" device (shapes, no memory, no
    weight initialisation), its input channels matching input_size[0]. ValueError for a bad knob
    or an input the network cannot take. Cached: the same arguments give the same (shared) result."""
    knobs = trace_knobs(model_name, knobs, input_size)

    def traced() -> TraceResult:
        with torch.device("meta"):
            model = create_model(model_name, **knobs)
        return trace(model, input_size, device="meta")

    return _traces.get(trace_key(model_name, knobs, input_size), traced)


def seconds_text(seconds: float) -> str:
    """0.42 -> '0.4 s', 7.9 -> '7.9 s', 125 -> '2m 05s', 6750 -> '1h 52m'."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return duration(seconds)
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def estimate_text(estimate: EpochEstimate, epochs: float | None = None) -> str:
    """Two lines: the time per epoch (and for `epochs`), then how it was estimated."""
    total = f" · ≈ {seconds_text(estimate.seconds * epochs)} for {epochs:g} epochs" if epochs else ""
    return (
        f"**≈ {seconds_text(estimate.seconds)} per epoch**{total} of {estimate.dataset} on this machine "
        f"({estimate.device})  \n*An estimate, within about 2×: {human(estimate.macs_per_image)} MACs per image × "
        f"(3 × {estimate.train_images:,} training + {estimate.test_images:,} test images) ÷ "
        f"{estimate.rate / 1e9:.0f} G training MACs/s, measured here on a small CNN. DenseNets and tiny nets "
        f"run slower than this.*"
    )


def training_estimate(**form) -> str:
    """The Train tab's estimate for its form: model_name, the knobs, dataset, image_size, epochs and
    train_subset. A form the trainer would refuse gets a short note instead (Train says why)."""
    try:
        model_name, dataset = form["model_name"], form["dataset"]
        info = dataset_info(dataset)
        side = info["size"] if (form.get("image_size") or "native") == "native" else int(form["image_size"])
        knobs = chosen_knobs(model_name, {name: form[name] for name in KNOBS if form.get(name) is not None})
        knobs.pop("num_classes", None)  # the dataset decides
        if "num_classes" in model_knobs(model_name) and info["num_classes"]:
            knobs["num_classes"] = info["num_classes"]
        result = meta_trace(model_name, knobs, (info["channels"], side, side))
        subset = int(form.get("train_subset") or 0) or None
        estimate = epoch_estimate(result, dataset, train_subset=subset)
        epochs = float(form.get("epochs") or 0) or None
    except (ValueError, TypeError) as err:
        return f"*No time estimate: {html.escape(str(err))}*"
    return estimate_text(estimate, epochs)


def form_triggers(controls) -> list:
    """The events that should redo a form's view: a number on Enter or when focus leaves (not on
    every keystroke: typing 110 would run 1 and 11 first), a radio or checkbox when clicked, a
    slider when released, a dropdown when it changes."""
    events = []
    for control in controls:
        if isinstance(control, gr.Number):
            events += [control.submit, control.blur]
        elif isinstance(control, (gr.Radio, gr.Checkbox)):
            events.append(control.input)
        elif isinstance(control, gr.Slider):
            events.append(control.release)
        elif isinstance(control, gr.Dropdown):
            events.append(control.change)
    return events
