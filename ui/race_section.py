"""The Experiments tab's "Architecture race" section: several classifiers of the zoo train on the
same built-in data with the same budget (epochs or training seconds per model), one after
another in this page's request (cnnzoo.race), with their test accuracy drawn live against epochs
and against seconds, each line labelled with the model's parameters, MACs per image and training
images/s. At the end a table of the final numbers and two scatters: accuracy against MACs and
against seconds. The default race (4 models × 6 epochs on digits at 16×16) took 73 s on 2 CPU
cores; benchmarks/race.py measures it.
"""
from __future__ import annotations

import os
import threading
import time

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

from cnnzoo.race import (
    BUDGET_KINDS, DEFAULT_MODELS, MAX_MODELS, MIN_MODELS, RACE_RECIPE, Race, RaceConfig, plan_race, race_models,
    race_table, run_race,
)  # fmt: skip
from ui.common import LIGHT, UPDATE_EVERY_S, Outputs, controls_and_view, human, number, user_errors
from ui.i18n import say
from ui.jobs import rejoin_stream, stream_job
from ui.sessions import PageStops, Session, session_for

DATASETS = ("digits", "shapes")  # built in: offline, and small enough for a CPU race
IMAGE_SIZES = (8, 16, 32)
DEFAULT_BUDGET = {"epochs": 6, "seconds": 15}
# The same per-experiment limit as the tab's other experiments (CNNZOO_MAX_EXPERIMENT_MINUTES): a
# race's training seconds, all models together, stay within it.
MAX_RACE_S = float(os.environ.get("CNNZOO_MAX_EXPERIMENT_MINUTES", 5)) * 60
FIGURE_EVERY_S = 2.5  # the live curves: a whole picture (~0.1 s to draw) each time
RACE_OUTPUTS = Outputs("race_status", "race_curves", "race_table", "race_scatter")
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
MARKERS = ("o", "s", "^", "D", "v", "P")
FONT = 12  # points; the figures are 6.4 inches wide

STOPS = PageStops()  # each page's Stop of its race


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def race_config(models, dataset, image_size, budget_kind, budget, seed) -> RaceConfig:
    """The form as a RaceConfig, checked: ValueError naming the field."""
    models = [models] if isinstance(models, str) else list(models or [])
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of the built-in {', '.join(DATASETS)}, got {dataset!r}")
    image_size = number(image_size, "image size", int)
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image size must be one of {', '.join(map(str, IMAGE_SIZES))} pixels, got {image_size}")
    if budget_kind not in BUDGET_KINDS:
        raise ValueError(f"budget kind must be one of {', '.join(BUDGET_KINDS)}, got {budget_kind!r}")
    budget, seed = number(budget, f"{budget_kind} per model"), number(seed, "seed", int)
    if not 0 <= seed < 2**31:
        raise ValueError(f"seed must be a whole number from 0 to 2147483647, got {seed}")
    cap = MAX_RACE_S / max(1, len(models))  # each model's share of the server's limit
    if budget_kind == "seconds" and budget > cap and MIN_MODELS <= len(models):
        raise ValueError(f"seconds per model: {len(models)} models × {budget:g} s is more than the "
                         f"{MAX_RACE_S / 60:g}-minute limit on one experiment here; choose at most {int(cap)} s per model.")
    return RaceConfig(models=tuple(models), dataset=dataset, image_size=image_size, budget_kind=budget_kind,
                      budget=budget, seed=seed, max_seconds_per_model=cap if budget_kind == "epochs" else None)


# ---------------------------------------------------------------------------------------------
# The race event: train, stream, stop
# ---------------------------------------------------------------------------------------------


def race(models: list[str] = DEFAULT_MODELS, dataset: str = "digits", image_size: int = 16,
         budget_kind: str = "epochs", budget: float = DEFAULT_BUDGET["epochs"], seed: int = 0,
         request: gr.Request = None):
    """Train `models` (2-6 classifiers) one after another on the built-in `dataset` at `image_size`
    pixels, each for the same `budget` of `budget_kind` ("epochs", or training "seconds") with the
    same recipe and `seed`. Streams (status, live accuracy curves, table, accuracy-vs-MACs and
    accuracy-vs-seconds scatters); race_stop stops it."""
    with user_errors():
        planned = plan_race(race_config(models, dataset, image_size, budget_kind, budget, seed))
    session = session_for(request)
    session.refuse_a_second("race")  # before its Stop is replaced by a new one
    stop = STOPS.start(session)  # now: a Stop while it waits for a slot is heard too
    yield from stream_job(session, "race", race_steps(session, planned, stop), len(RACE_OUTPUTS.names))


def race_rejoin(request: gr.Request):
    """On page load: this browser's race, as far as it got, streaming on if it trains."""
    yield from rejoin_stream(session_for(request), "race", len(RACE_OUTPUTS.names))


def race_steps(session: Session, planned: Race, stop: threading.Event):
    """The race's work, in its job: each model trained in turn, streaming; then the summary."""
    shown, drawn, finished = 0.0, 0.0, 0
    try:  # first the models' legend with their cost, and no table or scatter of a previous race
        yield RACE_OUTPUTS(race_status="Starting…", race_curves=curves_figure(planned), race_table=shown_table(planned),
                           race_scatter=None)
        with user_errors():  # e.g. a dataset that cannot be made: said, not a traceback
            for state in run_race(planned, stop):
                now, done = time.monotonic(), sum(e.test_acc is not None for e in state.entries)
                if done != finished:  # a model has its final numbers: the table and scatters grow
                    finished, shown, drawn = done, now, now
                    yield RACE_OUTPUTS(race_status=progress_text(state), race_curves=curves_figure(state),
                                       race_table=shown_table(state), race_scatter=scatter_figure(state))
                elif now - shown >= UPDATE_EVERY_S:
                    shown, figure = now, gr.skip()
                    if now - drawn >= FIGURE_EVERY_S:
                        drawn, figure = now, curves_figure(state)
                    yield RACE_OUTPUTS(race_status=progress_text(state), race_curves=figure)
        yield RACE_OUTPUTS(race_status=summary_text(state), race_curves=curves_figure(state),
                           race_table=shown_table(state), race_scatter=scatter_figure(state))
    finally:
        STOPS.done(session, stop)


def race_stop(request: gr.Request = None) -> str:
    """Stop this page's race after the current step; what was trained stays in the plots and table."""
    if not STOPS.stop(session_for(request)):
        return say("Nothing is racing on this page.")
    return say("Stopping after the current step…")


def budget_text(config: RaceConfig) -> str:
    if config.budget_kind == "epochs":
        return f"{config.budget:g} epoch{'s' if config.budget != 1 else ''} each"
    return f"{config.budget:g} s of training each"


def progress_text(state: Race) -> str:
    if state.current is None:
        return say("Starting…")
    entry, n = state.entries[state.current], len(state.entries)
    bar = "▰" * state.current + "▱" * (n - state.current)
    if entry.status == "waiting":
        return say("{bar} **{model}** (model {i} of {n}): timing a few steps to fit its epochs to the budget…",
                   bar=bar, model=entry.model, i=state.current + 1, n=n)
    planned = f" of {'≈' if state.config.budget_kind == 'seconds' else ''}{entry.planned_epochs:.3g}"
    accuracy = say(" · test accuracy {acc}%", acc=f"{100 * entry.points[-1][2]:.1f}") if entry.points else ""
    speed = f" · {entry.images_per_s:,.0f} images/s" if entry.images_per_s else ""
    return say("{bar} **{model}** (model {i} of {n}): epoch {epochs}{planned} · {seconds} s of training{speed}"
               "{accuracy} · {wall} s in all", bar=bar, model=entry.model, i=state.current + 1, n=n,
               epochs=f"{entry.epochs:.2f}", planned=planned, seconds=f"{entry.seconds:.1f}", speed=speed,
               accuracy=accuracy, wall=f"{state.wall_s:.0f}")


def summary_text(state: Race) -> str:
    config, rows = state.config, [r for r in race_table(state) if r["test_acc"] is not None]
    where = f"{config.dataset} at {state.input_size[1]}×{state.input_size[2]}"
    if state.stopped:
        skipped = [e.model for e in state.entries if e.status == "waiting"]
        rest = say("; {models} did not run", models=", ".join(skipped)) if skipped else ""
        return say("**Stopped** after {seconds} s{rest}. The plots and the table show what was trained.",
                   seconds=f"{state.wall_s:.0f}", rest=rest)
    best = max(rows, key=lambda r: r["test_acc"])
    quickest, lightest = min(rows, key=lambda r: r["seconds"]), min(rows, key=lambda r: r["macs"])
    capped = [r["model"] for r in rows if r["status"] == "time_limit"]
    cap = (f" {', '.join(capped)} reached this server's limit of {config.max_seconds_per_model:.0f} s per model "
           f"before its epochs were done." if capped else "")
    return (f"**Done** in {state.wall_s:.0f} s: {len(rows)} models, {budget_text(config)}, on {where}, seed "
            f"{config.seed}. Most accurate: **{best['model']}** ({100 * best['test_acc']:.1f}%); quickest to train: "
            f"**{quickest['model']}** ({quickest['seconds']:.1f} s); fewest MACs: **{lightest['model']}** "
            f"({human(lightest['macs'])}).{cap}")


TABLE_COLUMNS = ["model", "params", "MACs", "images/s", "epochs", "seconds", "test acc.", "status"]


def shown_table(state: Race) -> pd.DataFrame:
    """cnnzoo.race.race_table as the page shows it: exact parameters, readable MACs, percentages."""
    def percent(value):
        return "—" if value is None else f"{100 * value:.1f}%"

    return pd.DataFrame([{
        "model": r["model"], "params": f"{r['params']:,}", "MACs": human(r["macs"]),
        "images/s": round(r["images_per_s"] or 0), "epochs": round(r["epochs"], 2), "seconds": round(r["seconds"], 1),
        "test acc.": percent(r["test_acc"]), "status": r["status"].replace("_", " "),
    } for r in race_table(state)], columns=TABLE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def entry_label(entry) -> str:
    speed = f"{entry.images_per_s:,.0f} img/s" if entry.images_per_s else entry.status
    return f"{entry.model}: {human(entry.params)} params · {human(entry.macs)} MACs · {speed}"


def entry_style(k: int) -> dict:
    """Model k's colour and marker, the same in both figures (the marker also tells colour-blind readers)."""
    return dict(color=COLORS[k % len(COLORS)], marker=MARKERS[k % len(MARKERS)])


def new_figure(rows: int) -> tuple[Figure, list]:
    """A figure of `rows` axes above each other, sized and lettered to stay readable when a phone
    shrinks it to ~330 pixels across (fonts set per figure: rcParams are shared by every thread)."""
    fig = Figure(figsize=(6.4, 3.1 * rows + 0.6), layout="constrained")
    axes = list(fig.subplots(rows, 1))
    for ax in axes:
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(True, which="both", alpha=0.3)
    return fig, axes


def curves_figure(state: Race) -> Figure:
    """Test accuracy against epochs (top) and training seconds (bottom), one line per model, the
    legend below the axes with each model's parameters, MACs and images/s."""
    fig, (by_epoch, by_seconds) = new_figure(2)
    for k, entry in enumerate(state.entries):
        epochs, seconds, accuracy = zip(*entry.points) if entry.points else ((), (), ())
        style = dict(**entry_style(k), markersize=4, linewidth=2)
        by_epoch.plot(epochs, accuracy, label=entry_label(entry), **style)
        by_seconds.plot(seconds, accuracy, **style)
    for ax, xlabel in ((by_epoch, "epoch"), (by_seconds, "training seconds")):
        ax.set_xlabel(xlabel, fontsize=FONT)
        ax.set_ylabel("test accuracy", fontsize=FONT)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(left=0)
        ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    where = f"{state.config.dataset} {state.input_size[1]}×{state.input_size[2]}"
    by_epoch.set_title(f"test accuracy while training\n({where}, {budget_text(state.config)})", fontsize=FONT)
    fig.legend(loc="outside lower center", fontsize=FONT)  # one column: six long labels fit the width
    return fig


def scatter_figure(state: Race) -> Figure | None:
    """Final test accuracy against MACs per image and against training seconds; the legend below
    names the points (labels beside them collide when two models cost about the same)."""
    done = [(k, e) for k, e in enumerate(state.entries) if e.test_acc is not None]
    if not done:
        return None
    fig, (by_macs, by_seconds) = new_figure(2)
    for ax, x_of, xlabel in ((by_macs, lambda e: e.macs, "MACs per image (log scale)"),
                             (by_seconds, lambda e: e.seconds, "training seconds")):
        for k, entry in done:
            ax.plot([x_of(entry)], [entry.test_acc], linestyle="none", markersize=10, zorder=3,
                    label=entry.model if ax is by_macs else None, **entry_style(k))
        ax.set_xlabel(xlabel, fontsize=FONT)
        ax.set_ylabel("final test accuracy", fontsize=FONT)
        ax.margins(x=0.15, y=0.15)
        ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.1f}%")
    by_seconds.set_xlim(left=0)
    by_macs.set_xscale("log")
    by_macs.xaxis.set_major_formatter(lambda v, _: human(v))
    by_macs.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))  # races often span less than a decade
    by_macs.xaxis.set_minor_formatter(lambda v, _: human(v))
    by_macs.set_title(f"what each model's accuracy cost\n({budget_text(state.config)})", fontsize=FONT)
    fig.legend(loc="outside lower center", ncol=min(3, len(done)), fontsize=FONT - 1)
    return fig


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------

INTRO = f"""**Architecture race.** Choose {MIN_MODELS}-{MAX_MODELS} models of the zoo: they train one
after another on the same built-in data with the same recipe (SGD lr {RACE_RECIPE['lr']} one-cycle, batch
{RACE_RECIPE['batch_size']}, fp32, the same seed) and the same budget: the same **epochs** (every model sees
the same images; the seconds then show what its size costs), or the same **seconds** of training steps (each
model's epochs fitted to its own speed first, so its learning-rate schedule completes). Each curve's legend
gives the model's parameters, MACs per image and training images/s. The default race takes about a
minute and a quarter on a laptop's 2 cores; `densenet_bc_40_k12` and `wide_resnet16_2` are small members of
families whose registered sizes are too slow for a CPU."""


def budget_update(budget_kind: str):
    """The budget field for its kind: its label and a sensible default."""
    return gr.update(label=f"{budget_kind} per model", value=DEFAULT_BUDGET.get(budget_kind, 6))


def race_controls() -> dict:
    c = {}
    c["race_models"] = gr.Dropdown(race_models(), value=list(DEFAULT_MODELS), multiselect=True,
                                   max_choices=MAX_MODELS, label=f"models ({MIN_MODELS}-{MAX_MODELS}, in racing order)",
                                   elem_id="race-models")
    with gr.Row():
        c["race_dataset"] = gr.Radio(list(DATASETS), value="digits", label="data", min_width=120, elem_id="race-dataset")
        c["race_image_size"] = gr.Radio(list(IMAGE_SIZES), value=16, label="image size (px)", min_width=140,
                                           elem_id="race-image-size")
    c["race_budget_kind"] = gr.Radio([("same epochs", "epochs"), ("same seconds", "seconds")], value="epochs",
                                     label="budget", elem_id="race-budget-kind")
    with gr.Row():
        c["race_budget"] = gr.Number(DEFAULT_BUDGET["epochs"], label="epochs per model", min_width=100,
                                     elem_id="race-budget")
        c["race_seed"] = gr.Number(0, label="seed", precision=0, min_width=90)
    with gr.Row():
        c["race_btn"] = gr.Button("Race", variant="primary", elem_id="race-run")
        c["race_stop_btn"] = gr.Button("Stop", variant="stop", elem_id="race-stop")
    return c


def race_view() -> dict:
    c = {"race_status": gr.Markdown("Press **Race**.", elem_id="race-status")}
    plot = dict(show_label=False, format="png")  # the figures carry their own titles
    c["race_curves"] = gr.Plot(label="test accuracy while training", elem_id="race-curves", **plot)
    c["race_table"] = gr.Dataframe(label="final numbers: MACs per image; images/s and seconds of training steps; "
                                         "test accuracy on the whole test set", interactive=False, wrap=True,
                                   value=pd.DataFrame(columns=TABLE_COLUMNS),
                                   elem_id="race-table")
    c["race_scatter"] = gr.Plot(label="accuracy against MACs and seconds", elem_id="race-scatter", **plot)
    return c


RACE_INPUTS = ("race_models", "race_dataset", "race_image_size", "race_budget_kind", "race_budget", "race_seed")


def race_section(loaded) -> dict:
    """The Architecture race section: its Accordion, components and events (`loaded`: the page-load
    event). The race trains in a job of the session (ui.jobs.stream_job): the events only follow it."""
    with gr.Accordion("Architecture race: accuracy against cost", open=True, elem_id="race-section"):
        gr.Markdown(INTRO)
        c = controls_and_view(race_controls, race_view)
    c["race_btn"].click(race, [c[name] for name in RACE_INPUTS], RACE_OUTPUTS.of(c), api_name="race", **LIGHT)
    loaded.then(race_rejoin, None, RACE_OUTPUTS.of(c), api_visibility="private", **LIGHT)
    c["race_stop_btn"].click(race_stop, None, c["race_status"], api_name="race_stop", **LIGHT)
    c["race_budget_kind"].change(budget_update, c["race_budget_kind"], c["race_budget"], api_visibility="private",
                                 **LIGHT)
    return c
