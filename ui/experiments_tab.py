"""The Experiments tab: the ResNet paper's argument measured on networks of this page.

Run alone with `python -m ui.experiments_tab`; app.py renders `build_demo()` as a tab. Each
experiment is one section (a function building its own Accordion): degradation
(ui.degradation_section), the loss landscape below, layer responses (ui.responses_section) and
the architecture race (ui.race_section). The landscape:

**Loss landscape** (Li et al. 2018, cnnzoo.landscape): f(α, β) = L(θ* + αδ + βη) around the
trained weights of a plain and a residual network, on the same test images and the same random
directions, as contour plots on the same levels and as 3-D surfaces, plus the loss along the
straight line from each network's initial weights to its trained ones. The defaults are the
shipped pair plain20-digits and resnet20-digits (the same recipe, with and without shortcuts);
any classifier trained on the page or uploaded can take their place.

The handler streams: a status line several times a second and the partial contour plots (the
grid fills from the centre outwards) every few seconds; Stop keeps what was computed. Landscapes,
races and degradation runs are heavy (seconds to minutes of both CPU cores): each computes in a
job of the browser's session (ui.jobs.stream_job) that waits for one of the server's training
slots, outlives the page (a reload finds it, streaming on) and computes at the training jobs'
lower priority. Finished landscapes are cached for the whole server, so thirty students pressing
Compute on the defaults wait for one computation, not thirty.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path

import gradio as gr

from cnnzoo.cache import KeyedCache
from cnnzoo.landscape import (
    BN_MODES, MAX_SPAN, MAX_STEPS, MIN_STEPS, check_grid, fixed_batches, interpolation_1d, iter_landscape,
    starting_point,
)  # fmt: skip
from ui.cam_models import MODELS, Network, load_network, model_choices, test_set
from ui.common import LIGHT, UPDATE_EVERY_S, Outputs, controls_and_view, number, serve, user_errors
from ui.i18n import say
from ui.jobs import rejoin_stream, stream_job
from ui.experiments_view import contour_figure, line_figure, save_files, summary_text, surface_figure
from ui.degradation_section import degradation_section
from ui.race_section import race_section
from ui.responses_section import responses_section
from ui.sessions import PageStops, Session, detach_page, page_load, session_for

# Layer responses: a pass over the test set and two gradient batches per network (seconds), cached.
RESPONSES_CONCURRENCY = dict(concurrency_id="responses", concurrency_limit=2)
DEFAULT_PLAIN = "shipped:plain20-digits.safetensors"
DEFAULT_RESIDUAL = "shipped:resnet20-digits.safetensors"
DEFAULT_STEPS = 15  # 2 × 225 points: about half a minute on a 2-core laptop; 21 is the benchmark's
MAX_BATCHES = 8
MAX_EXPERIMENT_S = float(os.environ.get("CNNZOO_MAX_EXPERIMENT_MINUTES", 5)) * 60
FIGURE_EVERY_S = 3.0  # the partial contour plots (a whole picture each time)
LANDSCAPE_OUTPUTS = Outputs("status", "contours", "surfaces", "line", "summary", "files")
BN_CHOICES = [("ignore: zero (the paper's default)", "ignore"), ("copy θ* (the paper's other option)", "copy"),
              ("random, each vector normalised as one filter", "filter")]
assert [value for _, value in BN_CHOICES] == list(BN_MODES)

# Finished (Landscape, Interpolation) by model file and settings, shared by every page.
RESULTS: KeyedCache = KeyedCache(max_entries=32)
STOPS = PageStops()  # each page's Stop of its landscape in progress


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def load_pair(plain: str, residual: str, session: Session) -> list[Network]:
    networks = [load_network(plain, "plain", session), load_network(residual, "residual", session)]
    if networks[0].title == networks[1].title and plain != residual:  # e.g. a shipped file and its uploaded copy
        networks[1] = dataclasses.replace(networks[1], title=f"{networks[1].title} ({residual.partition(':')[0]})")
    (a, b) = (n.cm for n in networks)
    if (a.dataset, a.input_size, len(a.class_names)) != (b.dataset, b.input_size, len(b.class_names)):
        raise ValueError(f"the two networks must be trained on the same data to share test images: "
                         f"{networks[0].title} is {a.dataset} at {'×'.join(map(str, a.input_size))}, "
                         f"{networks[1].title} is {b.dataset} at {'×'.join(map(str, b.input_size))}.")
    return networks


def landscape_settings(steps, span, batches, seed, bn) -> dict:
    """The knobs as numbers, checked: ValueError saying the limits."""
    steps, span = number(steps, "grid steps", int), number(span, "span")
    check_grid(steps, span)
    batches = number(batches, "batches", int)
    if not 1 <= batches <= MAX_BATCHES:
        raise ValueError(f"batches must be from 1 to {MAX_BATCHES} (of 64 test images each), got {batches}")
    if bn not in BN_MODES:
        raise ValueError(f"BatchNorm and bias directions must be one of {', '.join(BN_MODES)}, got {bn!r}")
    return dict(steps=steps, span=span, batches=batches, seed=number(seed, "direction seed", int), bn=bn)


# ---------------------------------------------------------------------------------------------
# The landscape event: compute, stream, stop
# ---------------------------------------------------------------------------------------------


def landscape(plain: str = DEFAULT_PLAIN, residual: str = DEFAULT_RESIDUAL, steps: int = DEFAULT_STEPS,
              span: float = 1.0, batches: int = 1, seed: int = 0, bn: str = "ignore", request: gr.Request = None):
    """The loss landscapes of two classifiers of the same dataset (plain, residual) on the same test
    images (`batches` × 64) and the same random directions (`seed`): a steps × steps grid over
    [−span, span]², BatchNorm/bias directions by `bn` (ignore, copy, filter). Streams (status,
    contour plots, 3-D surfaces, 1-D interpolation plot, summary, files); landscape_stop stops it.
    It computes in a job of the browser's session: a reload finds it going on."""
    session = session_for(request)
    with user_errors():
        settings = landscape_settings(steps, span, batches, seed, bn)
        networks = load_pair(plain, residual, session)
        probe = fixed_batches(test_set(networks[0].cm), settings["batches"])
    session.refuse_a_second("landscape")  # before its Stop is replaced by a new one
    stop = STOPS.start(session)  # now: a Stop while it waits for a slot is heard too
    yield from stream_job(session, "landscape", landscape_steps(session, networks, probe, settings, stop),
                          len(LANDSCAPE_OUTPUTS.names))


def landscape_rejoin(request: gr.Request):
    """On page load: this browser's landscape, as far as it got, streaming on if it computes."""
    yield from rejoin_stream(session_for(request), "landscape", len(LANDSCAPE_OUTPUTS.names))


def landscape_steps(session: Session, networks: list[Network], probe, settings: dict, stop: threading.Event):
    """The landscape's work, in its job: each network's grid and line, streaming; then everything."""
    deadline = time.monotonic() + MAX_EXPERIMENT_S
    results, lines = {}, {}
    try:
        for k, network in enumerate(networks):
            results[network.title], lines[network.title] = yield from compute(
                network, probe, settings, stop, deadline, (k, networks, results))
            if results[network.title].stopped or (lines[network.title] and lines[network.title].stopped):
                break
        yield finished_view(networks, results, lines, settings, session)
    finally:
        STOPS.done(session, stop)


def compute(network: Network, probe, settings: dict, stop: threading.Event, deadline: float, place: tuple):
    """One network's landscape and line (cached when complete), streaming progress; returns both."""
    key = (network.identity, probe.dataset, len(probe.labels), *settings.values())
    hit = cached(key)
    if hit is not None:
        return hit
    k, networks, results = place
    cm, shown_at, drawn_at = network.cm, 0.0, time.monotonic()
    options = {name: settings[name] for name in ("steps", "span", "seed", "bn")}
    for result in iter_landscape(cm.model, probe, cm.mean, cm.std, stop=stop,
                                 time_limit_s=max(1.0, deadline - time.monotonic()), **options):
        now = time.monotonic()
        if now - shown_at >= UPDATE_EVERY_S:
            shown_at, figure = now, None
            if now - drawn_at >= FIGURE_EVERY_S:
                drawn_at, figure = now, contour_figure(named(networks, {**results, network.title: result}))
            yield LANDSCAPE_OUTPUTS(status=progress_text(network.title, k, result), contours=figure or gr.skip())
    if result.stopped:
        return result, None
    yield LANDSCAPE_OUTPUTS(status=say("**{title}**: the line from its initial weights…", title=network.title))
    initial, exact = starting_point(network.meta)
    line = interpolation_1d(cm.model, initial, probe, cm.mean, cm.std, steps=line_steps(settings["steps"]),
                            stop=stop)
    line.exact_start = exact
    if not line.stopped:
        RESULTS.get(key, lambda: (result, line))
    return result, line


def line_steps(steps: int) -> int:
    """Values of t in [−0.5, 1.5] for a grid of `steps` a side: 4k + 1 of them, so t = 0 and 1 are among them."""
    return 4 * (steps // 2) + 1


def cached(key: tuple):
    """The finished (Landscape, Interpolation) of `key`, or None: a lookup that never computes."""
    def missing():
        raise LookupError(key)  # KeyedCache stores nothing when make() raises

    try:
        return RESULTS.get(key, missing)
    except LookupError:
        return None


def named(networks: list[Network], values: dict) -> list[tuple[str, object]]:
    return [(n.title, values.get(n.title)) for n in networks]


def progress_text(title: str, k: int, result) -> str:
    share = result.done / result.points
    bar = "▰" * round(20 * share) + "▱" * (20 - round(20 * share))
    left = result.seconds / share - result.seconds if share else 0
    return say("**Computing {title}** (network {k} of 2) {bar} {done} / {points} points · {seconds} s · "
               "about {left} s left · on {images} test images", title=title, k=k + 1, bar=bar, done=result.done,
               points=result.points, seconds=f"{result.seconds:.0f}", left=f"{left:.0f}", images=result.images)


def finished_view(networks, results: dict, lines: dict, settings: dict, session: Session) -> tuple:
    """The final outputs: figures, summary and files of what was computed (all, or up to a Stop)."""
    grids = named(networks, results)
    drawn = {"contours": contour_figure(grids), "surfaces": surface_figure(grids),
             "interpolation": line_figure(named(networks, lines))}
    stem = "landscape-{steps}x{steps}-span{span:g}-seed{seed}-{bn}-b{batches}".format(**settings)
    files = save_files(session.subfolder("experiments"), stem, grids, lines, drawn)
    stopped = next((r.stopped for r in [*results.values(), *lines.values()] if r is not None and r.stopped), None)
    seconds = sum(r.seconds for r in results.values())
    if stopped is not None:
        why = (say("Time limit (this server's {minutes}-minute limit)", minutes=f"{MAX_EXPERIMENT_S / 60:g}")
               if stopped == "time limit" else say("Stopped"))
        points = next(iter(results.values())).points
        status = say("**{why}** after {done} of {total} points: the grid shows what was computed (nearest the "
                     "centre first).", why=why, done=sum(r.done for r in results.values()), total=2 * points)
    else:
        status = say("**Done**: 2 × {steps}×{steps} points in {seconds} s of computing.", steps=settings["steps"],
                     seconds=f"{seconds:.0f}")
    return LANDSCAPE_OUTPUTS(status=status, contours=drawn["contours"], surfaces=drawn["surfaces"],
                             line=drawn["interpolation"], summary=summary_text(grids, lines), files=files)


def landscape_stop(request: gr.Request = None) -> str:
    """Stop this page's landscape: it keeps the points computed so far and shows them."""
    if not STOPS.stop(session_for(request)):
        return say("Nothing is computing on this page.")
    return say("Stopping after the points in flight…")


# ---------------------------------------------------------------------------------------------
# The model lists
# ---------------------------------------------------------------------------------------------


def refresh_models(plain: str, residual: str, request: gr.Request = None):
    """Both lists again (models trained on the page since it opened appear), keeping the choices."""
    choices = model_choices(session_for(request))
    keys = {key for _, key in choices}
    return (gr.update(choices=choices, value=plain if plain in keys else DEFAULT_PLAIN),
            gr.update(choices=choices, value=residual if residual in keys else DEFAULT_RESIDUAL))


def landscape_upload(checkpoint: str | None, plain: str, residual: str, request: gr.Request = None):
    """Keep an uploaded classifier for this page; it becomes the residual network's choice."""
    if checkpoint is None:
        raise gr.Error(say("Choose a .safetensors classifier checkpoint (the Train tab's download)."))
    session = session_for(request)
    with user_errors():
        key = MODELS.keep_upload(session, checkpoint)
    plain_update, residual_update = refresh_models(plain, key, request)
    return plain_update, residual_update, f"Uploaded **{Path(checkpoint).name}**: chosen as the second network."


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------

LANDSCAPE_INTRO = f"""
**f(α, β) = L(θ\\* + αδ + βη)** (Li et al. 2018, *Visualizing the Loss Landscape of Neural Nets*): the
loss around the trained weights θ\\* along two random directions δ, η, each filter rescaled to the
norm of the trained filter (*filter normalisation*), so α = 1 moves every filter by its own size.
Both networks are measured on the same test images along directions drawn from the same random
numbers. The paper found both landscapes convex-looking at 20 layers; with depth (56, 110 layers)
the plain net's turned chaotic while the residual net's stayed smooth: train `plain56` and
`resnet56` in the Train tab and compare them here. Grids of {MIN_STEPS}–{MAX_STEPS} points a side
(odd); 15 takes about half a minute on a laptop.
"""


def landscape_controls() -> dict:
    c = {}
    model = dict(allow_custom_value=True, info="shipped, trained on this page, or uploaded")
    c["plain"] = gr.Dropdown([], value=DEFAULT_PLAIN, label="plain network", elem_id="landscape-plain", **model)
    c["residual"] = gr.Dropdown([], value=DEFAULT_RESIDUAL, label="residual network", elem_id="landscape-residual", **model)
    c["upload"] = gr.File(label="upload a classifier (.safetensors)", file_types=[".safetensors"], height=130)
    c["steps"] = gr.Slider(MIN_STEPS, MAX_STEPS, value=DEFAULT_STEPS, step=2, label="grid steps per side", elem_id="landscape-steps",
                           info="odd, so θ* is the centre point")
    with gr.Row():
        c["span"] = gr.Number(1.0, label="span", minimum=0.05, maximum=MAX_SPAN, min_width=90,
                              info="α, β ∈ [−span, span]")
        c["seed"] = gr.Number(0, label="direction seed", precision=0, min_width=90, info="δ, η")
    c["batches"] = gr.Slider(1, MAX_BATCHES, value=1, step=1, label="batches of 64 test images that estimate L")
    c["bn"] = gr.Radio(BN_CHOICES, value="ignore", label="BatchNorm and bias directions")
    with gr.Row():
        c["compute_btn"] = gr.Button("Compute", variant="primary", elem_id="landscape-compute")
        c["stop_btn"] = gr.Button("Stop", variant="stop", elem_id="landscape-stop")
    return c


def landscape_view() -> dict:
    c = {"status": gr.Markdown("Press **Compute**.", elem_id="landscape-status")}
    plot = dict(show_label=False)  # the figures carry their own titles: a label would sit on them
    c["contours"] = gr.Plot(label="contour plots, same levels (log scale)", elem_id="landscape-contours", **plot)
    c["surfaces"] = gr.Plot(label="3-D surfaces, same axes", elem_id="landscape-surfaces", **plot)
    c["line"] = gr.Plot(label="from the initial to the trained weights", elem_id="landscape-line", **plot)
    c["summary"] = gr.Markdown(elem_id="landscape-summary", elem_classes=["cnnzoo-table"])
    c["files"] = gr.File(label="downloads: grid values (.npz) and figures (.png)", file_count="multiple",
                         interactive=False, height=170)
    return c


LANDSCAPE_INPUTS = ("plain", "residual", "steps", "span", "batches", "seed", "bn")


def landscape_section(loaded) -> dict:
    """The Loss landscape section: its Accordion, components and events (`loaded`: the page-load event)."""
    with gr.Accordion("Loss landscape", open=True):
        gr.Markdown(LANDSCAPE_INTRO)
        c = controls_and_view(landscape_controls, landscape_view)
    models = [c["plain"], c["residual"]]
    # The events only follow the experiment's job (ui.jobs.stream_job), which waits for a training slot.
    c["compute_btn"].click(landscape, [c[name] for name in LANDSCAPE_INPUTS], LANDSCAPE_OUTPUTS.of(c),
                           api_name="landscape", **LIGHT)
    c["stop_btn"].click(landscape_stop, None, c["status"], api_name="landscape_stop", **LIGHT)
    c["upload"].upload(landscape_upload, [c["upload"], *models], [*models, c["status"]], api_name="landscape_upload",
                       **LIGHT)
    for dropdown in models:
        dropdown.focus(refresh_models, models, models, api_visibility="private", **LIGHT)
    loaded.then(refresh_models, models, models, api_visibility="private", **LIGHT).then(
        landscape_rejoin, None, LANDSCAPE_OUTPUTS.of(c), api_visibility="private", **LIGHT)
    return c


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · Experiments") as demo:
        gr.Markdown("## Experiments\nThe ResNet paper's questions, measured on the networks of this page.")
        loaded = page_load(demo)  # the sections' load events follow it: they see the browser's session
        degradation_section(loaded)
        pair = landscape_section(loaded)
        responses_section(pair["plain"], pair["residual"], RESPONSES_CONCURRENCY)  # the same two networks
        race_section(loaded)
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
