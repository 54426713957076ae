"""What the tabs share: how errors reach the user, how numbers read, how a server starts.

Everything here is UI glue; the work itself lives in cnnzoo/.
"""
from __future__ import annotations

import html
from contextlib import contextmanager

import gradio as gr

from cnnzoo.registry import model_knobs

# A bounded queue: a class of 30 clicking at once fits, a runaway script gets "queue full".
QUEUE_MAX_SIZE = 128

# launch() options shared by app.py and every tab run alone (`python -m ui.shapes`).
# A theme object, not a Hub theme string: the page must load offline. Its fonts ship with gradio.
LAUNCH_OPTIONS = dict(
    theme=gr.themes.Soft(),
    css="""
    .cnnzoo-table table { font-size: 0.9rem; }
    .cnnzoo-totals p { font-size: 1.05rem; }
    """,
    show_error=False,  # tracebacks stay in the server log; gr.Error messages still reach the user
    max_file_size="20mb",  # for the tabs that take uploads
)


def serve(demo: gr.Blocks, **overrides):
    """Queue and launch a Blocks with the project's options.

    Server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, else 127.0.0.1:7860.
    """
    demo.queue(max_size=QUEUE_MAX_SIZE)
    return demo.launch(**{**LAUNCH_OPTIONS, **overrides})


@contextmanager
def user_errors():
    """Turn the core's ValueErrors (a user's mistake, with the fix) into a gr.Error popup.

    gr.Error renders HTML, and the message can echo what the user typed, so it is escaped.
    Anything else is a bug and propagates unchanged.
    """
    try:
        yield
    except ValueError as err:
        raise gr.Error(html.escape(str(err)), print_exception=False) from err


def natural_input(model_name: str) -> tuple[int, int, int]:
    """(channels, height, width) a registered model was designed for.

    Channels come from the builder's in_channels default; the size from the family's naming
    convention: *_imagenet nets take 224×224, *mnist* nets 28×28, the rest CIFAR's 32×32.
    """
    channels = model_knobs(model_name).get("in_channels", 3)
    if "imagenet" in model_name:
        return channels, 224, 224
    if "mnist" in model_name:
        return channels, 28, 28
    return channels, 32, 32


def duration(seconds: float | None) -> str:
    """72 -> '1m 12s', 9 -> '9s', None -> '?': ETAs and expected times."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def human(count: float) -> str:
    """12_443_648 -> '12.4 M', 269_722 -> '0.27 M', 15_872 -> '15,872'."""
    if count >= 1e9:
        return f"{count / 1e9:.2f} G"
    if count >= 1e6:
        return f"{count / 1e6:.1f} M"
    if count >= 1e5:
        return f"{count / 1e6:.2f} M"
    return f"{count:,.0f}"


# ---------------------------------------------------------------------------------------------
# Model knobs: one set of controls, shown per model, shared by the Shapes and Train tabs
# ---------------------------------------------------------------------------------------------

# The model knobs the tabs have a control for, in the order of the handlers' parameters. A model
# shows the controls for the knobs its builder has; any other knob keeps the builder's default.
KNOBS = (
    "depth", "widen_factor", "growth_rate", "reduction", "bottleneck", "dropout",
    "shortcut", "pool", "width", "downsample", "num_classes",
)  # fmt: skip


def knob_controls() -> dict[str, gr.components.Component]:
    """One control per knob in KNOBS, hidden until a model that has the knob is chosen."""
    hidden = dict(visible=False)
    return {
        "depth": gr.Number(20, label="depth", precision=0, minimum=1, maximum=1202, **hidden,
                           info="weighted layers; each family allows only some depths"),
        "widen_factor": gr.Number(10, label="widen factor k", precision=0, minimum=1, maximum=32, **hidden),
        "growth_rate": gr.Number(12, label="growth rate k", precision=0, minimum=1, maximum=128, **hidden),
        "reduction": gr.Slider(0.1, 1.0, value=0.5, step=0.05, label="compression θ (transition layers)", **hidden),
        "bottleneck": gr.Checkbox(True, label="bottleneck (1×1 conv to 4k channels first)", **hidden),
        "dropout": gr.Slider(0.0, 0.9, value=0.0, step=0.05, label="dropout (training only: shapes stay)", **hidden),
        "shortcut": gr.Radio(["A", "B"], value="A", label="shortcut", **hidden,
                             info="A: identity, zero-padded channels · B: 1×1 projection"),
        "pool": gr.Radio(["avg", "max"], value="avg", label="global pooling (GAP / GMP)", **hidden),
        "width": gr.Number(32, label="base width", precision=0, minimum=1, maximum=512, **hidden),
        "downsample": gr.Radio([0, 1, 2], value=2, label="2×2 max-pools", **hidden),
        "num_classes": gr.Number(10, label="classes", precision=0, minimum=1, maximum=100_000, **hidden),
    }  # fmt: skip


def knob_updates(model_name: str, hide: tuple[str, ...] = ()) -> list:
    """Show the controls of the knobs `model_name` has, at its defaults; hide the rest (and `hide`)."""
    with user_errors():  # an unknown name, from the API
        defaults = model_knobs(model_name)
    return [
        gr.update(visible=True, value=defaults[name]) if name in defaults and name not in hide else gr.update(visible=False)
        for name in KNOBS
    ]


def chosen_knobs(model_name: str, values: dict) -> dict:
    """The knob values the model has (others are ignored), with 20.0 -> 20 for integer knobs."""
    return {
        name: int(value) if isinstance(value, float) and value.is_integer() else value
        for name, value in values.items()
        if name in model_knobs(model_name)
    }
