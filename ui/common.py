"""What the tabs share: how errors reach the user, how form fields become numbers, how numbers
read, the model-knob controls, the concurrency settings, outputs by name, the LinePlot reset, the
layout of a tab, and how a server starts.

Everything here is UI glue; the work itself lives in cnnzoo/.
"""
from __future__ import annotations

import dataclasses
import html
import os
from contextlib import contextmanager

import gradio as gr

from cnnzoo.registry import model_info, model_knobs
from ui.i18n import I18N, said_error, say, translate

# A bounded queue: a class of 30 clicking at once fits, a runaway script gets "queue full".
QUEUE_MAX_SIZE = 128
MAX_UPLOAD_MB = float(os.environ.get("CNNZOO_MAX_UPLOAD_MB", 600))

# launch() options shared by app.py and every tab run alone (`python -m ui.shapes_tab`).
# A theme object, not a Hub theme string: the page must load offline. Its fonts ship with gradio.
LAUNCH_OPTIONS = dict(
    # Soft's label pills (indigo-500 on indigo-100, 3.6:1) and field notes (gray-400 on white, 2.5:1)
    # wash out on a projector: darker text, 6.4:1 and 7.6:1 (tests/test_e2e_layout.py measures them)
    theme=gr.themes.Soft().set(block_label_text_color="*primary_700", block_title_text_color="*primary_700",
                               block_info_text_color="*neutral_600"),
    css="""
    .cnnzoo-table table { font-size: 0.9rem; }
    /* On a phone more of a layer table's key columns (output, params, MACs) fit beside the
       pinned name (ui.shapes_tab): smaller text */
    @media (max-width: 640px) { .cnnzoo-table table { font-size: 0.72rem; } }
    /* A layer table's name column (the second, after #) stays in view while the table scrolls
       sideways, # sliding under it: gradio 6.31 takes pinned_columns but does not pin. Its header
       cells are th, its rows divs of .body-cell */
    .cnnzoo-pinned th:nth-child(2), .cnnzoo-pinned .body-cell:nth-child(2) {
      position: sticky; left: 0; z-index: 3; background: inherit;  /* the row's stripe */
      box-shadow: 1px 0 0 var(--border-color-primary); }
    .cnnzoo-totals p { font-size: 1.05rem; }
    /* Galleries of small pictures (feature maps) write their captions into the pictures: gradio's
       own caption would cover a third of a 72-pixel tile (API clients still get it) */
    .cnnzoo-tiles .caption-label { display: none; }
    /* An image's or a plot's label sits above it, not over its top rows (gradio floats it on them:
       the GAN grid's first samples, the top of a CAM overlay or a plot's title) */
    label[data-testid="block-label"].float { position: relative; top: 0; left: 0; margin-bottom: var(--size-1); }
    /* Numbers tables break lines between words, never inside one ("generato r"), and scroll
       sideways where a narrow column cannot hold them */
    .prose table { display: block; max-width: 100%; overflow-x: auto; }
    .prose td, .prose th { word-break: normal; overflow-wrap: normal; hyphens: manual; }
    /* Galleries a student reads (CAM overlays, misclassified images): the caption goes under the
       picture, whole, instead of over its bottom, cut to "predict…" */
    .cnnzoo-captions .thumbnail-item { aspect-ratio: auto; display: flex; flex-direction: column; }
    .cnnzoo-captions .thumbnail-item > img { aspect-ratio: 1; height: auto; }
    .cnnzoo-captions .caption-label { position: static; max-width: 100%; white-space: normal; border: none;
                                      border-radius: 0; opacity: 1 !important; }
    /* CAM overlays two a row up to a projector's width (145 px each at 1024 px in four, ~290 in two),
       every row shown (gradio caps a gallery's height and scrolls it inside) */
    @media (max-width: 1100px) {
      #cam-overlays .grid-container { --grid-cols: 2 !important; grid-template-rows: none !important; }
      #cam-overlays .grid-wrap.fixed-height { max-height: none; }
    }
    /* The Train plots' legend (ui.train_view.legend_table): a table of final numbers, a run a row,
       with a colour bar per line; it scrolls sideways on a phone */
    .cnnzoo-legend { font-size: 0.85rem; max-width: 100%; overflow-x: auto; }
    .cnnzoo-legend table { border-collapse: collapse; white-space: nowrap; }
    .cnnzoo-legend th, .cnnzoo-legend td { padding: 2px var(--size-2); text-align: right; }
    .cnnzoo-legend th:first-child, .cnnzoo-legend td:first-child { text-align: left; }
    .cnnzoo-key { margin-right: var(--size-2); }
    /* A figure of three panels side by side (the layer responses) keeps a readable size on a phone
       and scrolls sideways in its box, as wide tables do */
    @media (max-width: 640px) {
      .cnnzoo-wide { overflow-x: auto; }
      /* centred, its left end would be cut off */
      .cnnzoo-wide * { justify-content: flex-start !important; align-items: flex-start !important; }
      .cnnzoo-wide img { width: 760px; min-width: 760px; max-width: none; }
    }
    .cnnzoo-key i { display: inline-block; width: 1.2em; height: 0.3em; margin-right: 0.3em; vertical-align: middle; }
    """,
    show_error=False,  # tracebacks stay in the server log; gr.Error messages still reach the user
    # Uploads (checkpoints, image folders, pictures) up to the size of the zoo's largest checkpoint
    # (VGG-19 for ImageNet, 548 MiB; tests/test_spaces.py checks), or CNNZOO_MAX_UPLOAD_MB
    max_file_size=f"{MAX_UPLOAD_MB:g}mb",
    # Worker threads for handlers: every page following a training job (ui.jobs) holds one while
    # it waits for news, so a class of thirty must not exhaust gradio's default 40.
    max_threads=160,
    # Gradio's run history keeps every call's inputs in the browser and lists them, as raw JSON, under
    # "Runs" in the footer: on a classroom's shared PC the next student would read the last one's.
    # Off unless asked for: GRADIO_RUN_HISTORY=true turns it on (the page's own run lists stay).
    run_history=None if "GRADIO_RUN_HISTORY" in os.environ else False,
    i18n=I18N,  # the page's texts in Korean where the browser's language is Korean (ui.i18n.translate)
)


def serve(demo: gr.Blocks, **overrides):
    """Queue and launch a Blocks with the project's options.

    Server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, else 127.0.0.1:7860.
    """
    translate(demo)
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
    except ValueError as err:  # in the request's language where ui.i18n knows the message
        raise gr.Error(html.escape(said_error(str(err))), print_exception=False) from err


# ---------------------------------------------------------------------------------------------
# Form fields: checked before the work is queued, with the message on the field
# ---------------------------------------------------------------------------------------------


class FieldError(ValueError):
    """A ValueError about one field of a form: `field` is its label (or the handler's name for it)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class NumberField:
    """A number a form asks for, declared once: the control the page shows and the check of what
    arrives (from the page or an API client).

        EPOCHS = NumberField("epochs", float, 0.1, 500)
        EPOCHS.control(10, min_width=90)   # the gr.Number
        EPOCHS.read(form["epochs"])        # 10.0, or a FieldError: "epochs must be at most 500, got 900"
    """

    label: str
    kind: type = float
    minimum: float | None = None
    maximum: float | None = None

    def control(self, value=None, **options) -> gr.Number:
        """The gr.Number. Its range guides the browser's arrows; what arrives is checked by read(),
        which names the field. Gradio's own range check would not name it, and it would fail the
        whole event (every output of the page then shows "Error"), so this control skips it."""
        box = gr.Number(value, label=self.label, minimum=self.minimum, maximum=self.maximum,
                        precision=0 if self.kind is int else None, **options)
        box.preprocess = lambda payload: payload  # set on the instance: see picture_input
        return box

    def read(self, value):
        """`value` as a float or int; a FieldError naming the field when it is blank, not a
        number, not whole (for int) or out of range, instead of a TypeError deep inside the core."""
        label = say(self.label)  # in the page's language (ui.i18n)
        if value is None or value == "":
            raise FieldError(self.label, say("{label} is empty: type a number", label=label))
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise FieldError(self.label, say("{label} must be a number, got {value}", label=label, value=repr(value))) from None
        if self.kind is int and not number.is_integer():
            raise FieldError(self.label, say("{label} must be a whole number, got {value}", label=label, value=repr(value)))
        if self.minimum is not None and number < self.minimum:
            raise FieldError(self.label, say("{label} must be at least {minimum}, got {number}", label=label,
                                             minimum=f"{self.minimum:g}", number=f"{number:g}"))
        if self.maximum is not None and number > self.maximum:
            raise FieldError(self.label, say("{label} must be at most {maximum}, got {number}", label=label,
                                             maximum=f"{self.maximum:g}", number=f"{number:g}"))
        return int(number) if self.kind is int else number


def number(value, label: str, kind=float):
    """A form field's value as a float or int, checked as NumberField.read does (no range)."""
    return NumberField(label, kind).read(value)


def validator(check, inputs):
    """Gradio's validator for an event, from `check`: the handler's own check of its inputs (it
    raises a ValueError, a FieldError where one field is wrong), called with the same arguments.

    The page runs it before the work is queued: the message appears on the field a FieldError
    names (by label, or by its name in `inputs`), any other on the first input (the core's
    messages say what they are about: "Wide ResNet depth must be 6n + 4 …"), and every output
    keeps what it shows. gradio_client runs it too (a ValidationError); a client that posts to the
    queue directly does not, so the handler runs `check` as well.
    """
    named = dict(inputs) if isinstance(inputs, dict) else {str(i): box for i, box in enumerate(inputs)}
    first = next(iter(named))

    def validate(*args, **kwargs):
        try:
            check(*args, **kwargs)
        except ValueError as error:
            field = getattr(error, "field", None)
            wrong = next((key for key, box in named.items() if field in (key, getattr(box, "label", None))), first)
            return [gr.validate(key != wrong, str(error) if key == wrong else "") for key in named]
        return [gr.validate(True, "") for _ in named]

    return validate


def natural_input(model_name: str) -> tuple[int, int, int]:
    """(channels, height, width) a registered model was designed for: its registry input_size."""
    with user_errors():  # an unknown name, from the API
        return model_info(model_name)["input_size"]


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


# The knobs that are numbers: what their controls show and what they accept.
KNOB_NUMBERS = {
    "depth": NumberField("depth", int, 1, 1202),
    "widen_factor": NumberField("widen factor k", int, 1, 32),
    "growth_rate": NumberField("growth rate k", int, 1, 128),
    "width": NumberField("base width", int, 1, 512),
    "num_classes": NumberField("classes", int, 1, 100_000),
}


def knob_controls() -> dict[str, gr.components.Component]:
    """One control per knob in KNOBS, hidden until a model that has the knob is chosen."""
    hidden = dict(visible=False)
    return {
        "depth": KNOB_NUMBERS["depth"].control(20, **hidden, info="weighted layers; each family allows only some depths"),
        "widen_factor": KNOB_NUMBERS["widen_factor"].control(10, **hidden),
        "growth_rate": KNOB_NUMBERS["growth_rate"].control(12, **hidden),
        "reduction": gr.Slider(0.1, 1.0, value=0.5, step=0.05, label="compression θ (transition layers)", **hidden),
        "bottleneck": gr.Checkbox(True, label="bottleneck (1×1 conv to 4k channels first)", **hidden),
        "dropout": gr.Slider(0.0, 0.9, value=0.0, step=0.05, label="dropout (training only: shapes stay)", **hidden),
        "shortcut": gr.Radio(["A", "B", "C"], value="A", label="shortcut", **hidden,
                             info="A: identity, zero-padded channels · B: 1×1 projection where the shape "
                                  "changes · C: projection on every shortcut"),
        "pool": gr.Radio(["avg", "max"], value="avg", label="global pooling (GAP / GMP)", **hidden),
        "width": KNOB_NUMBERS["width"].control(32, **hidden),
        "downsample": gr.Radio([0, 1, 2], value=2, label="2×2 max-pools", **hidden),
        "num_classes": KNOB_NUMBERS["num_classes"].control(10, **hidden),
    }  # fmt: skip


def knob_updates(model_name: str, hide: tuple[str, ...] = (), values: dict | None = None) -> list:
    """Show the controls of the knobs `model_name` has, at its defaults (or `values`); hide the rest
    (and `hide`)."""
    with user_errors():  # an unknown name, from the API
        defaults = {**model_knobs(model_name), **(values or {})}
    return [
        gr.update(visible=True, value=defaults[name]) if name in defaults and name not in hide else gr.update(visible=False)
        for name in KNOBS
    ]


def chosen_knobs(model_name: str, values: dict) -> dict:
    """The knob values the model has (others are ignored); the number knobs read as KNOB_NUMBERS
    says (a FieldError naming a blank or impossible one)."""
    knobs = model_knobs(model_name)
    return {
        name: KNOB_NUMBERS[name].read(value) if name in KNOB_NUMBERS else value
        for name, value in values.items()
        if name in knobs
    }


# ---------------------------------------------------------------------------------------------
# Events: concurrency, streaming, outputs by name
# ---------------------------------------------------------------------------------------------

# Training is the heavy work: a deliberate number of runs at once for the whole server (a Space
# has 2 CPU cores), each bounded in time; the rest wait their turn (ui.jobs's training slots).
# The Train and GAN tabs share this one limit.
# The cores this server may use: a Space's CPU_CORES, else the ones this process may run on.
CORES = int(os.environ["CPU_CORES"]) if os.environ.get("CPU_CORES", "").isdigit() else len(os.sched_getaffinity(0))
# Two runs at once on 2 cores (each waits in torch's other thread half the time); at most 4.
TRAIN_LIMIT = int(os.environ.get("CNNZOO_TRAIN_CONCURRENCY") or min(4, max(1, CORES)))
MAX_TRAIN_S = float(os.environ.get("CNNZOO_MAX_TRAIN_MINUTES", 20)) * 60
LIGHT = dict(concurrency_limit=None)  # microseconds of work, or waiting: never wait for a slot
UPDATE_EVERY_S = 0.4  # a streaming view refreshes at most ~2.5 times a second


class Outputs:
    """An event's outputs by name, so a handler says what it updates instead of counting places.

        TRAIN_OUTPUTS = Outputs("loss_plot", "status", "files")
        event = btn.click(fn, ..., outputs=TRAIN_OUTPUTS.of(components))   # components: name -> component
        yield TRAIN_OUTPUTS(status="…")        # the other outputs keep what they show (gr.skip)
    """

    def __init__(self, *names: str):
        self.names = names

    def of(self, components: dict) -> list:
        return [components[name] for name in self.names]

    def __call__(self, **values):
        unknown = set(values) - set(self.names)
        if unknown:
            raise TypeError(f"not an output of this event: {', '.join(sorted(unknown))}")
        update = tuple(values.get(name, gr.skip()) for name in self.names)
        return update[0] if len(update) == 1 else update


class LinePlotLines:
    """Gradio 6.31's LinePlot keeps drawing only the lines of the first data it was given, so
    when a line is added the plot must be reset (set to None) before the new data goes out. Only
    then: a drawn plot set to None makes its stale ResizeObservers throw "Cannot read properties of
    null (reading 'offsetWidth')" in the browser console. (So ui.train_view.curves names a run's
    test line before its first evaluation: a first run never resets its plots.)"""

    def __init__(self):
        self.drawn: set[str] = set()

    def new_lines(self, frame) -> bool:
        """Does `frame` (long format, a "series" column) add lines to what the plot draws?"""
        lines = set() if frame is None else set(frame["series"].unique())
        added = bool(self.drawn) and bool(lines - self.drawn)
        self.drawn = lines
        return added


def drawn(figure) -> "gr.components.plot.PlotData":
    """A matplotlib figure as a gr.Plot(format="png") shows it: drawn now, once. Keep what this
    returns to show the same figure again without drawing it again (a ResNet-56's shape figure
    takes ~0.4 s of CPU to draw; a class asks for it thirty times)."""
    from gradio.components.plot import PlotData
    from gradio.processing_utils import encode_plot_to_base64

    return PlotData(type="matplotlib", plot=encode_plot_to_base64(figure, "png"))


def controls_and_view(controls, view, *, min_width: int = 280, view_scale: int = 2) -> dict:
    """The tabs' layout: the controls in a narrow column on the left (at least `min_width` pixels)
    and what they show in a wide one on the right. Both builders return their components by
    name; so does this, the two dicts merged."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=min_width):
            components = controls()
        with gr.Column(scale=view_scale):
            components.update(view())
    return components


def picture_input(**options) -> gr.Image:
    """A gr.Image whose unreadable uploads get a clear message.

    Gradio opens an uploaded picture with PIL before any handler runs; a file that is not a
    picture would fail there with a bare "Error". The decoding itself is data.load_image's.
    The wrapper is set on the instance: gradio writes a .pyi file beside the source of every
    Component subclass when the class is defined, so a subclass would write into ui/.
    """
    image = gr.Image(**options)
    gradio_preprocess = image.preprocess

    def preprocess(payload):
        try:
            return gradio_preprocess(payload)
        except gr.Error:
            raise
        except Exception as error:  # PIL raises OSError, SyntaxError, DecompressionBombError ...
            raise gr.Error(html.escape(f"That file is not a picture this app can read ({type(error).__name__}); "
                                       f"use a PNG, JPEG, GIF, BMP, TIFF or WebP file."), print_exception=False) from error

    image.preprocess = preprocess
    return image
