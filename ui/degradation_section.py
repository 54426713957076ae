"""The Experiments tab's "Degradation" section: the ResNet paper's Figure 1/6 at classroom scale.

plain-20, ResNet-20, plain-56 and ResNet-56 train one after another with the same recipe
(cnnzoo.recipes.DEGRADATION_RECIPE) in a job of the browser's session (ui.jobs.stream_job), streaming one figure: training
error (thin) and test error (bold) by epoch, on a log axis so that 0.3% and 70% both read. At
the end a table gives each net's final training error (the trained net in eval mode on the
whole training set), test error and seconds. Measured with benchmarks/degradation.py (seeds
0, 1, 2): plain-56's training error is 42, 70 and 52 points above plain-20's; ResNet-56's is
within 3 of 1,437 training images of ResNet-20's; all four take 65-76 s on 2 CPU cores.
"""
from __future__ import annotations

import time

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure

from cnnzoo.recipes import DEGRADATION_MODELS, DEGRADATION_RECIPE
from cnnzoo.replay import SPEEDS
from cnnzoo.trainer import TrainConfig, Trainer, final_errors
from ui.common import LIGHT, UPDATE_EVERY_S, number, user_errors
from ui.replays import group_spec, replays
from ui.i18n import say
from ui.jobs import rejoin_stream, stream_job
from ui.sessions import PageStops, session_for

COLORS = {"plain20": "tab:orange", "plain56": "tab:red", "resnet20": "tab:cyan", "resnet56": "tab:blue"}
MIN_ERROR = 1e-3  # the log axis's floor: 0.1%, one image in a thousand
TRAIN_SMOOTHING = 0.2  # EWM weight of the newest of the 20 training-error records per epoch (the Train tab's way)

STOPS = PageStops()  # each page's Stop of its degradation runs
OUTPUTS = 3  # status, figure, table: what the runs stream
RECORD = "degradation"  # the shipped record of the classroom run (ui.replays; train/records.py)


def curves(history: list[dict]) -> tuple[list, list, list, list]:
    """(epochs, training error) from the step records, smoothed as the Train tab smooths (each record
    averages a few batches, so it jumps), and (epochs, test error) from the eval records."""
    steps = [r for r in history if r.get("kind") == "step" and r.get("train_acc") is not None]
    evals = [r for r in history if r.get("kind") == "eval" and r.get("test_acc") is not None]
    train = pd.Series([1 - r["train_acc"] for r in steps], dtype=float).ewm(alpha=TRAIN_SMOOTHING).mean()
    return ([r["epoch"] for r in steps], [max(MIN_ERROR, e) for e in train],
            [r["epoch"] for r in evals], [max(MIN_ERROR, 1 - r["test_acc"]) for r in evals])


def degradation_figure(histories: dict[str, list[dict]]) -> Figure:
    """Figure 1/6 of He et al. 2016: thin training error, bold test error, per net, log axis."""
    fig = Figure(figsize=(9, 5.0), layout="constrained")
    ax = fig.subplots()
    for name, history in histories.items():
        train_x, train_y, test_x, test_y = curves(history)
        ax.plot(train_x, train_y, "-", linewidth=1.0, alpha=0.8, color=COLORS.get(name), label=f"{name} training")
        ax.plot(test_x, test_y, "o-", linewidth=2.4, markersize=3, color=COLORS.get(name), label=f"{name} test")
    ax.set_yscale("log")
    ax.set_ylim(MIN_ERROR, 1.0)
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:g}%")
    ax.set(xlabel="epoch", ylabel="error (log scale)",
           title="degradation: thin = training error, bold = test error (He et al. 2016, Fig. 1/6)")
    ax.grid(True, which="both", alpha=0.25)
    fig.legend(fontsize="small", ncol=4, loc="outside lower center")  # below: the curves fill the axes
    return fig


TABLE_COLUMNS = ["network", "training error", "test error", "seconds"]


def final_table(results: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame([{"network": name, "training error": f"{100 * r['train']:.2f}%",
                          "test error": f"{100 * r['test']:.2f}%", "seconds": round(r["seconds"], 1)}
                         for name, r in results.items()], columns=TABLE_COLUMNS)


def recorded_view() -> tuple[str, pd.DataFrame]:
    """What the section opens with: the shipped record's final numbers (its figure is one click on ▶
    replay away: a drawn figure in the page's config would cost every page load 166 kB)."""
    results, seed = group_spec(RECORD)["final_errors"], replays(RECORD, 1, 100, "classifier")[0].config["seed"]
    return (f"**The recorded run** (its final numbers below). {summary(results, seed)} Press **▶ replay** to "
            "watch its curves grow, or **train the four nets** to run it here.", final_table(results))


def summary(results: dict[str, dict], seed: int) -> str:
    if not {"plain20", "plain56", "resnet20", "resnet56"} <= set(results):
        return f"Stopped after {', '.join(results) or 'no network'}: press the button to run all four again."
    plain = 100 * (results["plain56"]["train"] - results["plain20"]["train"])
    residual = 100 * (results["resnet56"]["train"] - results["resnet20"]["train"])
    return (f"**Seed {seed}.** Deeper is worse for the plain nets: plain-56's *training* error is "
            f"**{plain:+.1f} points** against plain-20's, so it is not overfitting, it fails to optimise. "
            f"With shortcuts the deeper net is not worse: ResNet-56 − ResNet-20 = **{residual:+.2f} points**. "
            f"All four in {sum(r['seconds'] for r in results.values()):.0f} s.")


def play(runs, stop, speed: str = ""):
    """Run each (name, runner, result) in turn (a Trainer, or a Replay of its record), streaming
    (status, figure, skip) at most every few updates; `result(seconds)` gives the net's final
    numbers once it has finished. Returns (histories, results) of what ran before a Stop."""
    histories, results, shown = {}, {}, 0.0
    for k, (name, runner, result) in enumerate(runs):
        started = time.perf_counter()
        for event in runner.run(stop):
            histories[name] = event.history
            if time.monotonic() - shown >= 8 * UPDATE_EVERY_S:  # a figure costs ~0.1 s to draw
                shown = time.monotonic()
                yield (say("**{name}** ({k} of 4{speed}): epoch {epoch} of {epochs}", name=name, k=k + 1, speed=speed,
                           epoch=f"{event.epoch:.1f}", epochs=DEGRADATION_RECIPE["epochs"]),
                       degradation_figure(histories), gr.skip())
        if stop.is_set():
            break
        results[name] = result(time.perf_counter() - started)
    return histories, results


def run_degradation(seed: int = 0, request: gr.Request = None):
    """Train plain20, resnet20, plain56 and resnet56 with the classroom degradation recipe and `seed`,
    one after another; streams (status, figure, table). degradation_stop stops it. It trains in a
    job of the browser's session: a reload finds it going on."""
    with user_errors():
        seed = number(seed, "seed", int)  # blank, not a number, not whole: said with the field's name
        if not 0 <= seed < 2**31:
            raise ValueError(f"seed must be a whole number from 0 to 2147483647, got {seed!r}")
    session = session_for(request)

    def trained(name):  # made when its turn comes
        trainer = Trainer(TrainConfig(model=name, **{**DEGRADATION_RECIPE, "seed": seed}))
        return name, trainer, lambda seconds: {**final_errors(trainer), "seconds": seconds}

    def steps():  # in the job
        try:
            histories, results = yield from play(map(trained, DEGRADATION_MODELS), stop)
            yield summary(results, seed), degradation_figure(histories), final_table(results)
        finally:
            STOPS.done(session, stop)

    session.refuse_a_second("degradation")  # before its Stop is replaced by a new one
    stop = STOPS.start(session)  # now: a Stop while it waits for a slot is heard too
    yield from stream_job(session, "degradation", steps(), OUTPUTS)


def replay_degradation(speed: float = 16, position: float = 0, request: gr.Request = None):
    """The shipped record of this classroom run (checkpoints/records/degradation, seed 0) replayed at
    `speed`× its recorded pace, each net from `position` % of its run: the same figure growing,
    then the recorded final numbers. For a class that cannot wait the two minutes;
    degradation_stop stops it. A replay needs no training slot."""
    with user_errors():
        items = replays(RECORD, speed, position, "classifier")
    recorded = group_spec(RECORD)["final_errors"]
    session = session_for(request)
    runs = ((item.config["model"], item, lambda _, name=item.config["model"]: recorded[name]) for item in items)

    def steps():  # in the job
        try:
            histories, results = yield from play(runs, stop, f", recorded, {float(speed):g}×")
            seed = items[0].config["seed"]
            yield f"{summary(results, seed)} (A recorded run, replayed.)", degradation_figure(histories), final_table(results)
        finally:
            STOPS.done(session, stop)

    session.refuse_a_second("degradation")
    stop = STOPS.start(session)
    yield from stream_job(session, "degradation", steps(), OUTPUTS, needs_slot=False)


def degradation_rejoin(request: gr.Request):
    """On page load: this browser's degradation runs (or replay), as far as they got, streaming on."""
    yield from rejoin_stream(session_for(request), "degradation", OUTPUTS)


def degradation_position(position: float = 100):
    """The scrub bar: the four recorded runs as they stood at `position` % of their epochs (the
    final numbers once they are at the end)."""
    with user_errors():
        items = replays(RECORD, 1, position, "classifier")
    histories = {item.config["model"]: item.history_at(item.from_step) for item in items}
    epoch = float(position) / 100 * items[0].config["epochs"]
    if float(position) < 100:
        return (f"The recorded run at epoch {epoch:.1f} of {items[0].config['epochs']:g} of each net: drag on, "
                "or ▶ replay from here.", degradation_figure(histories), final_table({}))
    results = group_spec(RECORD)["final_errors"]
    return f"{summary(results, items[0].config['seed'])} (A recorded run.)", degradation_figure(histories), final_table(results)


def degradation_stop(request: gr.Request = None) -> str:
    """Stop this page's degradation runs after the current step; the figure keeps what was trained."""
    if not STOPS.stop(session_for(request)):
        return say("Nothing is training on this page.")
    return say("Stopping after the current step…")


INTRO = f"""**Degradation** (He et al. 2016, Figure 1 and Figure 6). Stack more layers on a plain net
and its *training* error goes up: not overfitting, an optimisation failure. Shortcuts remove it.
Four nets train one after another on the built-in digits with one recipe
({DEGRADATION_RECIPE['image_size']}×{DEGRADATION_RECIPE['image_size']} px, {DEGRADATION_RECIPE['epochs']} epochs,
batch {DEGRADATION_RECIPE['batch_size']}, SGD lr {DEGRADATION_RECIPE['lr']} one-cycle): about 1-2 minutes
on a laptop. Measured for seeds 0, 1, 2 (benchmarks/degradation.py): plain-56 ends 42-70 points of
training error above plain-20, ResNet-56 within 0.2 points of ResNet-20. How far above varies with
the machine and its threads: the recorded run below is seed 0 trained elsewhere."""


def degradation_section(loaded) -> dict:
    """The Degradation section: its Accordion, components and events (`loaded`: the page-load event).
    The runs train in a job of the session (ui.jobs.stream_job): the events only follow it."""
    c = {}
    with gr.Accordion("Degradation: deeper plain nets train worse", open=True, elem_id="degradation-section"):
        gr.Markdown(INTRO)
        with gr.Row(equal_height=True):
            c["degradation_seed"] = gr.Number(0, label="seed", precision=0, minimum=0, min_width=90)
            c["degradation_btn"] = gr.Button("train the four nets", variant="primary", elem_id="degradation-run")
            c["degradation_stop"] = gr.Button("Stop", elem_id="degradation-stop")
        with gr.Row(equal_height=True):
            c["degradation_speed"] = gr.Radio([(f"{s}×", s) for s in SPEEDS], value=16, label="replay speed",
                                               elem_id="degradation-speed")
            c["degradation_position"] = gr.Slider(0, 100, value=0, step=1, label="position (% of each run): drag to "
                                                  "look, ▶ replays from here", elem_id="degradation-position")
            c["degradation_replay"] = gr.Button("▶ replay the recorded run (seed 0): no waiting", elem_id="degradation-replay")
        status, table = recorded_view()
        c["degradation_status"] = gr.Markdown(status, elem_id="degradation-status")
        c["degradation_plot"] = gr.Plot(label="degradation", show_label=False, format="png", elem_id="degradation-plot")
        c["degradation_table"] = gr.Dataframe(table, label="final numbers", interactive=False, elem_id="degradation-table")
    outputs = [c["degradation_status"], c["degradation_plot"], c["degradation_table"]]
    c["degradation_btn"].click(run_degradation, c["degradation_seed"], outputs, api_name="degradation_figure",
                               **LIGHT)
    loaded.then(degradation_rejoin, None, outputs, api_visibility="private", **LIGHT)
    c["degradation_replay"].click(replay_degradation, [c["degradation_speed"], c["degradation_position"]], outputs,
                                  api_name="degradation_replay", **LIGHT)
    c["degradation_position"].release(degradation_position, c["degradation_position"], outputs,
                                      api_name="degradation_position", **LIGHT)
    c["degradation_stop"].click(degradation_stop, None, c["degradation_status"], api_name="degradation_stop", **LIGHT)
    return c
