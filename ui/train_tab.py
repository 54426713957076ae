"""The Train tab: train a classifier with live curves, stop it, resume it, compare runs.

Run alone with `python -m ui.train_tab`; app.py renders `build_demo()` as a tab.

The handlers adapt cnnzoo.trainer: the form becomes a TrainConfig; the training runs in the
browser session's job (ui.jobs), so a reload or a closed lid does not stop it; the trainer's
events become rows of two line plots and a status line on every page that follows the job (a
few updates a second at most), and the end of a run its test report
(cnnzoo.trainer.classifier_report) drawn as a confusion matrix and a gallery. The trainer writes
every file of the run (checkpoint, metrics.csv, CAM timeline); the page offers them for download.
Runs, their checkpoints and their Stop belong to the browser that started them
(ui/sessions.py). Jobs share the server's training slots; Stop and the plot controls are light
and never wait behind them.
"""
from __future__ import annotations

import dataclasses
import functools
import html
from pathlib import Path

import gradio as gr

from cnnzoo import data as datasets
from cnnzoo.recipes import DEGRADATION_MODELS, DEGRADATION_RECIPE, RECIPES
from cnnzoo.registry import list_models, model_knobs
from cnnzoo.replay import Replay
from cnnzoo.trainer import TrainConfig, Trainer
from ui.calculator import TRACE_CONCURRENCY, form_triggers, training_estimate
from ui.common import (
    KNOBS, LIGHT, MAX_TRAIN_S, LinePlotLines, Outputs, chosen_knobs, controls_and_view,
    NumberField, knob_controls, knob_updates, serve, user_errors, validator,
)  # fmt: skip
from ui.gpu import GPURun
from ui.i18n import said_error, say
from ui.jobs import Job, raise_error
from ui.recipes_view import (
    OPTIMIZER_CHOICES, RECIPE_OUTPUTS, SCHEDULE_CHOICES, dataset_chosen, optimizer_fields, recipe_controls,
    schedule_fields, train_recipe,
)  # fmt: skip
from ui.sessions import (
    Run, Session, detach_page, page_load, restore_form, session_for, stop_training, unique_name,
)  # fmt: skip
from ui.replays import replay_controls, replays
from ui.train_view import curve_outputs, final_line, live_status, report_view, status_line

# The recipe `python -m train.classifier --recipe digits-fast`: about 98% on digits in seconds.
DEFAULTS = {"momentum": 0.9, "augment": True, "seed": 0, **RECIPES["digits-fast"]}
OVERLAID = 6  # runs drawn together when a run ends: its own and the page's latest before it
IMAGE_SIZES = ["native", "16", "28", "32", "64"]
DEGRADATION_RECIPE = {**DEGRADATION_RECIPE, "cam_probe": 0}  # the Train tab also shows each run's CAM timeline

# The form's numbers (ui.common.NumberField): config_from_form reads them all; the number boxes are built
# from them (label smoothing and the validation split are sliders, with the same label).
FIELDS = {
    "epochs": NumberField("epochs", float, 0.1, 500),
    "batch_size": NumberField("batch size", int, 1, 4096),
    "lr": NumberField("learning rate", float, 1e-6, 10),
    "momentum": NumberField("momentum", float, 0, 0.999),
    "weight_decay": NumberField("weight decay", float, 0, 1),
    "label_smoothing": NumberField("label smoothing", float, 0, 0.9),
    "seed": NumberField("seed", int),
    "train_subset": NumberField("training images (0 = all)", int, 0),
    "val_fraction": NumberField("validation split (picks 'best')", float, 0, 0.9),
    "probe_index": NumberField("probe: test image #", int, 0),
}

# What the training events update, by name (ui.common.Outputs).
OUTPUTS = Outputs("loss_plot", "acc_plot", "status", "confusion", "gallery", "files", "runs", "timeline", "legend")


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def train_model(folder_zip=None, request: gr.Request = None, **form):
    """Train one classifier with the form's settings (the parameters are the form's fields: model_name,
    the model's knobs, dataset, epochs, lr, …); streams the curves and a status line, then the
    test report. With cam_timeline, the CAM of test image #probe_index is recorded every epoch.
    folder_zip (a .zip of class folders, for dataset "folder") is the one field without a default."""
    with user_errors():
        config = config_from_form({**form, "folder_zip": folder_zip})
    session = session_for(request)
    start_training(session, [config])
    session.forms["train"] = dict(form)  # what a reload of the page puts back (restore_form)
    yield from follow_runs(session, form.get("smoothing", 0.6))


def check_form(folder_zip=None, **form) -> None:
    """train_model's check of the form, run before the work is queued (its validator): a FieldError
    naming the field, or the core's ValueError for an impossible combination."""
    config_from_form({**form, "folder_zip": folder_zip})


def check_estimate(**form) -> None:
    """The time estimate's check of the numbers it reads (epochs, train subset), as its validator.
    Gradio clears a field's message when an event that reads the field starts: the estimate runs
    when focus leaves a number, as the Train click that the message came from does, so it must
    put the same message back."""
    for name in ("epochs", "train_subset"):
        FIELDS[name].read(form.get(name))


def degradation_experiment(smoothing, request: gr.Request):
    """plain20, resnet20, plain56, resnet56 on the same data: the ResNet paper's degradation."""
    configs = [TrainConfig(model=name, **DEGRADATION_RECIPE, time_limit_s=MAX_TRAIN_S / 4) for name in DEGRADATION_MODELS]
    session = session_for(request)
    start_training(session, configs)
    yield from follow_runs(session, smoothing)


def resume_run(run_name, smoothing, request: gr.Request):
    """Continue a stopped run of this session where it ended (same curves, same checkpoint)."""
    session = session_for(request)
    run = session.runs.get(run_name or "")
    if run is None or run.checkpoint is None:
        raise gr.Error(say("Choose a run of this session that was stopped (the 'resume' list), then press Resume."))
    start_training(session, [run])
    yield from follow_runs(session, smoothing)


def replay(record, speed, position, smoothing, request: gr.Request):
    """Replay a shipped run record (ui.replays: the default run, the shipped ResNets, the degradation
    experiment) exactly as a live run shows: curves, status, test report, CAM timeline; at `speed`×
    the recorded pace, from `position` % of the run. Stop stops it; a reload follows it on."""
    with user_errors():
        items = replays(record, speed, position, "classifier")
    session = session_for(request)
    start_training(session, items, needs_slot=False)
    yield from follow_runs(session, smoothing)


def replay_position(record, position, smoothing):
    """The scrub bar: the recorded run(s) as they stood at `position` % (curves, status, CAM frame)."""
    with user_errors():
        items = replays(record, 1, position, "classifier")
    runs = [Run(name=item.name, config=item.config, history=item.history_at(item.from_step)) for item in items]
    item, run = items[-1], runs[-1]
    if not run.history:
        status = f"**{run.name}** · the start of the recorded run"
    elif run.history[-1]["kind"] == "end":
        run.status = item.record["status"]
        status = final_line(run)
    else:
        status = f"{status_line(run, item.event(run.history, **run.history[-1]))} · recorded"
    frames = item.pictures_at(item.from_step, "cam")
    return OUTPUTS(**curve_outputs(runs, smoothing), status=status,
                   timeline=str(item.folder / frames[-1]["file"]) if frames else None)


def redraw(selected_runs, smoothing, request: gr.Request):
    """Re-draw both plots and their legend for the chosen runs and smoothing (no training involved)."""
    session = session_for(request)
    shown = curve_outputs([session.runs[name] for name in selected_runs or [] if name in session.runs], smoothing)
    return shown["loss_plot"], shown["acc_plot"], shown["legend"]


def config_from_form(form: dict) -> TrainConfig:
    """The TrainConfig the form describes; ValueError naming the field for a blank or impossible value."""
    model = form["model_name"]
    image_size = form.get("image_size") or "native"
    read = {name: field.read(form.get(name)) for name, field in FIELDS.items()
            if name != "probe_index" or form.get("cam_timeline")}
    config = TrainConfig(
        model=model, knobs=chosen_knobs(model, {name: form.get(name) for name in KNOBS if name != "num_classes"}),
        dataset=form["dataset"], dataset_path=upload_path(form.get("folder_zip"), form["dataset"]),
        image_size=None if image_size == "native" else int(image_size),
        epochs=read["epochs"], batch_size=read["batch_size"], **optimizer_fields(form["optimizer"]), lr=read["lr"],
        momentum=read["momentum"], weight_decay=read["weight_decay"], **schedule_fields(form["schedule"]),
        augment=bool(form["augment"]), normalisation=form.get("normalisation") or "dataset",
        label_smoothing=read["label_smoothing"], seed=read["seed"], train_subset=read["train_subset"] or None,
        val_fraction=read["val_fraction"], cam_probe=read.get("probe_index"), time_limit_s=MAX_TRAIN_S,
    )  # fmt: skip
    config.validate()
    return config


def upload_path(upload, dataset: str) -> str | None:
    if dataset != "folder":
        return None
    if upload is None:
        raise ValueError("For the 'folder' dataset, upload a .zip with one sub-folder of images per class.")
    return upload if isinstance(upload, str) else getattr(upload, "name", None)


# ---------------------------------------------------------------------------------------------
# Streaming runs: the one driver of the three training handlers
# ---------------------------------------------------------------------------------------------


def start_training(session: Session, jobs: list, needs_slot: bool = True) -> None:
    """Train jobs (new TrainConfigs, a stopped Run to resume, or Replays) one after another in the
    session's training job (ui.jobs): it outlives the page that started it, and every page follows it."""
    session.start_job("train", functools.partial(train_runs, session, jobs), needs_slot)


def train_runs(session: Session, jobs: list, job: Job) -> None:
    """The job's work: each run in turn, every event published; then the last run's test report."""
    shown: list[Run] = []
    for item in jobs:
        run, trainer = start_run(session, item)
        shown.append(run)
        job.publish(runs=list(shown))
        for event in trainer.run(session.stop):
            run.update(event)
            job.publish(event)
        if session.stop.is_set():
            break
    job.publish(report=report_view(shown[-1], pictures_folder(session, shown[-1])))


def pictures_folder(session: Session, run: Run) -> Path:
    """Where a run's report pictures go: its own folder, or for a replay of a shipped checkpoint
    (not the session's to write in) a folder of the session."""
    checkpoint = Path(run.checkpoint or session.folder).resolve()
    if checkpoint.is_relative_to(session.folder.resolve()):
        return checkpoint.parent / "misclassified"
    return session.subfolder("replays") / f"misclassified{len(session.runs)}"


def follow_runs(session: Session, smoothing: float):
    """Stream the session's training job to this page: curves and status while it trains, then
    everything at the end (see finished_view). The page's earlier runs are drawn beside the live
    one from the start, so the plots reset (see LinePlotLines) once per new run, not at its end."""
    lines, listed = LinePlotLines(), None
    for job in session.job.follow():
        raise_error(job)
        runs = job.view.get("runs", [])
        drawn = overlaid(session, runs)
        shown = curve_outputs(drawn, smoothing)
        if lines.new_lines(shown["loss_plot"]):
            yield OUTPUTS(loss_plot=None, acc_plot=None)
        if job.done:
            yield finished_view(session, runs, smoothing, job.view.get("report"))
            return
        names = [run.name for run in drawn]  # the runs list follows too (a reloaded page starts empty)
        update = {} if names == listed else {"runs": gr.update(choices=list(session.runs), value=names)}
        listed = names
        yield OUTPUTS(**shown, status=live_status(job, runs), **update)


def rejoin(smoothing, request: gr.Request):
    """On page load (also after a reload): this browser's runs, and its training job, which streams
    on where it is if it still runs, or shows how it ended."""
    session = session_for(request)
    job = session.job
    if job is None or job.kind != "train" or (job.error and job.done):
        ended = say("The last run ended with an error: {error}", error=html.escape(said_error(job.error))) if job and job.error else gr.skip()
        yield OUTPUTS(status=ended, runs=gr.update(choices=list(session.runs), value=[]))
        return
    yield from follow_runs(session, smoothing)


def start_run(session: Session, job: TrainConfig | Run | Replay) -> tuple[Run, GPURun | Replay]:
    """The run record and what trains it (a Trainer where the GPU is, ui.gpu): a new run in a
    folder of the session, a stopped one resumed, or a recorded one replayed (a Replay yields the
    trainer's events)."""
    if isinstance(job, Replay):
        run, trainer = Run(name=unique_name(f"▶ {job.name}", session.runs), config=job.config), job  # ▶: a replay
    elif isinstance(job, Run):
        run, trainer = job, GPURun(Trainer, resume_from=job.checkpoint, override={"time_limit_s": MAX_TRAIN_S})
    else:
        run = Run(name=unique_name(f"{job.model} · {job.dataset}", session.runs), config=job.to_dict())
        folder = session.subfolder(f"run{len(session.runs) + 1}")
        trainer = GPURun(Trainer, dataclasses.replace(job, out_dir=str(folder)))
    session.runs[run.name] = run
    run.status = "running"
    return run, trainer


def overlaid(session: Session, shown: list[Run]) -> list[Run]:
    """The runs the plots draw with `shown` (a job's runs): the page's latest earlier runs first, up
    to OVERLAID in all, so a second run is drawn beside the first without looking for a checkbox."""
    # A snapshot (list(), one step for other threads): the job's thread adds runs while pages draw.
    earlier = [run for run in list(session.runs.values()) if run.name not in {r.name for r in shown}]
    room = max(0, OVERLAID - len(shown))  # for earlier runs, the latest first
    return (earlier[-room:] if room else []) + shown


def finished_view(session: Session, shown: list[Run], smoothing: float, report):
    """Everything at the end: the curves (with the earlier runs, see overlaid), the last run's test
    report, its files, the runs to compare."""
    finished = shown[-1]
    confusion, gallery = report or (None, [])
    drawn = overlaid(session, shown)
    files = [finished.files[role] for role in ("checkpoint", "metrics", "cam_timeline") if role in finished.files]
    return OUTPUTS(**curve_outputs(drawn, smoothing), status=final_line(finished), confusion=confusion,
                   gallery=gallery, files=files,
                   runs=gr.update(choices=list(session.runs), value=[r.name for r in drawn]),
                   timeline=finished.files.get("cam_strip"))


def restored_knobs(model_name, request: gr.Request):
    """After a reload put the form back: the knob controls of its network, at the saved values where
    Train was last pressed with that network; the recipe's normalisation (a gr.State: the server's)."""
    form = session_for(request).forms.get("train") or {}
    values = {name: form[name] for name in model_knobs(model_name) if form.get("model_name") == model_name
              and form.get(name) is not None}
    return [*knob_updates(model_name, ("num_classes",), values), form.get("normalisation") or gr.skip()]


def resumable_choices(request: gr.Request):
    session = session_for(request)
    names = [r.name for r in list(session.runs.values()) if r.status in ("stopped", "time_limit") and r.checkpoint]
    return gr.update(choices=names, value=names[-1] if names else None)


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


# The parameters of train_model, in the API's order: the form's fields, and "smoothing" (a control
# of the view: it shapes the curves the run streams).
FORM = ("model_name", *KNOBS, "dataset", "image_size", "epochs", "batch_size", "optimizer", "lr", "momentum",
        "weight_decay", "schedule", "augment", "label_smoothing", "seed", "train_subset", "val_fraction", "smoothing",
        "folder_zip", "cam_timeline", "probe_index")
# What a reload puts back in the browser (ui.sessions.restore_form): the form but its upload and
# the knobs (they follow their network, and the normalisation is the server's: restored_knobs).
RESTORED = tuple(name for name in FORM if name not in (*KNOBS, "folder_zip"))


def form_controls() -> dict[str, gr.components.Component]:
    """The training form: one control per parameter of train_model (FORM, but smoothing), by name."""
    c = recipe_controls()  # the recipe list fills the rest; its normalisation has no control (a gr.State)
    c["model_name"] = gr.Dropdown(list_models(kind="classifier"), value=DEFAULTS["model"], label="network", filterable=True,
                                  elem_id="train-network")
    c.update(knob_controls())
    c["dataset"] = gr.Dropdown(datasets.dataset_names(), value=DEFAULTS["dataset"], label="dataset",
                               info="digits and shapes are built in; MNIST, Fashion-MNIST and CIFAR are read from ./data")
    c["folder_zip"] = gr.File(label="image folder as .zip (one sub-folder per class)", file_types=[".zip"], visible=False)
    c["image_size"] = gr.Dropdown(IMAGE_SIZES, value="native", label="image size")
    with gr.Row():
        c["epochs"] = FIELDS["epochs"].control(DEFAULTS["epochs"], min_width=90)
        c["batch_size"] = FIELDS["batch_size"].control(DEFAULTS["batch_size"], min_width=90)
    with gr.Accordion("optimizer and schedule", open=False):
        c["optimizer"] = gr.Radio(OPTIMIZER_CHOICES, value=DEFAULTS["optimizer"], label="optimizer",
                                  info="sgd: plain momentum, the seeds' code · sgd + Nesterov: the WRN paper's")
        with gr.Row():
            for name in ("lr", "momentum", "weight_decay"):
                c[name] = FIELDS[name].control(DEFAULTS[name], min_width=90)
        c["schedule"] = gr.Radio(SCHEDULE_CHOICES, value=DEFAULTS["schedule"], label="learning-rate schedule",
                                 info="×0.2 at 30/60/80%: WRN's epochs 60/120/160 of 200 · ×0.1 at 50/75%: He et al.'s "
                                      "32k/48k of 64k steps")
        c["augment"] = gr.Checkbox(DEFAULTS["augment"], label="augmentation (random crop, and flip where it keeps the label)")
        c["label_smoothing"] = gr.Slider(0, 0.3, value=0.0, step=0.05, label="label smoothing")
        with gr.Row():
            c["cam_timeline"] = gr.Checkbox(True, label="record the CAM timeline of one test image")
            c["probe_index"] = FIELDS["probe_index"].control(0, min_width=90)
        with gr.Row():
            c["seed"] = FIELDS["seed"].control(DEFAULTS["seed"], min_width=90)
            c["train_subset"] = FIELDS["train_subset"].control(0, min_width=90)
            c["val_fraction"] = gr.Slider(0, 0.3, value=0.0, step=0.05, label="validation split (picks 'best')")
    return c


def view_components() -> dict[str, gr.components.Component]:
    """What a run shows, by name (the names of OUTPUTS, and the run controls)."""
    c = {"status": gr.Markdown("Press **Train** to start.", elem_id="train-status")}
    with gr.Row():
        c["loss_plot"] = gr.LinePlot(x="epoch", y="value", color="series", label="loss", y_title="cross-entropy",
                                     colors_in_legend=[])
        c["acc_plot"] = gr.LinePlot(x="epoch", y="value", color="series", label="accuracy (%)", y_title="accuracy %",
                                    colors_in_legend=[])
    c["legend"] = gr.HTML(elem_id="train-legend")  # both plots' (train_view.curve_outputs)
    c["smoothing"] = gr.Slider(0, 0.99, value=0.6, step=0.01, label="smoothing of the train curves")
    c["runs"] = gr.CheckboxGroup([], label="runs to show (this page's runs)")
    with gr.Row():
        c["resume_choice"] = gr.Dropdown([], label="resume", info="stopped runs of this page", allow_custom_value=True)
        c["resume_btn"] = gr.Button("Resume")
        c["degradation_btn"] = gr.Button("Degradation experiment: plain vs residual, 20 vs 56 layers")
    with gr.Row():
        c["confusion"] = gr.Plot(label="confusion matrix (test set)", show_label=False, format="png", elem_id="train-confusion")
        c["gallery"] = gr.Gallery(label="misclassified test images", columns=2, height=320, allow_preview=False,
                                  object_fit="contain", elem_classes="cnnzoo-captions")
    c["timeline"] = gr.Image(label="CAM timeline: where the network looks on the probe image, epoch by epoch",
                             type="filepath", interactive=False, buttons=["download", "fullscreen"])
    c["files"] = gr.File(elem_id="train-files", label="downloads: checkpoint (.safetensors), metrics (.csv), CAM timeline (.gif)",
                         file_count="multiple", interactive=False)
    return c


INTRO = """Train a classifier and watch it learn. The defaults train a small CNN on handwritten digits
(built in, no download) to about **98% test accuracy in seconds** on a laptop CPU. **Stop** keeps
a checkpoint you can **Resume**; every run of this page can be overlaid."""


def controls() -> dict[str, gr.components.Component]:
    c = form_controls()
    with gr.Row():
        c["train_btn"] = gr.Button("Train", variant="primary")
        c["stop_btn"] = gr.Button("Stop", variant="stop")
    c["estimate"] = gr.Markdown(elem_id="train-estimate")  # ui.calculator.training_estimate
    c.update(replay_controls("classifier", "replay_"))
    return c


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · train") as demo:
        gr.Markdown(INTRO)
        c = controls_and_view(controls, view_components, min_width=300)
        train_btn, stop_btn = c["train_btn"], c["stop_btn"]
        knob_inputs = [c[name] for name in KNOBS]
        outputs = OUTPUTS.of(c)
        # The dataset decides the number of classes. On page load the form Train was last pressed
        # with comes back (a reload), then the knobs of its network.
        loaded = page_load(demo)
        knobs_shown = c["model_name"].input(lambda name: knob_updates(name, hide=("num_classes",)), c["model_name"],
                                            knob_inputs, api_visibility="private", **LIGHT)
        restored = restore_form(loaded, "train", {name: c[name] for name in RESTORED}).then(
            restored_knobs, c["model_name"], [*knob_inputs, c["normalisation"]], api_visibility="private", **LIGHT)
        # The time an epoch would take, before Train is pressed: after the knobs follow the model, and
        # whenever a setting it depends on changes.
        estimated = {name: c[name] for name in ("model_name", *KNOBS, "dataset", "image_size", "epochs", "train_subset")}
        quiet = dict(api_visibility="private", show_progress="hidden", **TRACE_CONCURRENCY)
        for shown in (knobs_shown, restored):
            shown.then(training_estimate, inputs_kwargs=estimated, outputs=c["estimate"], **quiet)
        gr.on(form_triggers([estimated[name] for name in estimated if name != "model_name"]), training_estimate,
              inputs_kwargs=estimated, outputs=c["estimate"], trigger_mode="always_last",
              validator=validator(check_estimate, estimated), **quiet)
        # A reload (or a Wi-Fi blip) finds this browser's runs, and a run in progress streams on.
        loaded.then(rejoin, c["smoothing"], outputs, api_visibility="private", **LIGHT).then(
            resumable_choices, None, c["resume_choice"], api_visibility="private", **LIGHT)
        c["dataset"].change(lambda d: gr.update(visible=d == "folder"), c["dataset"], c["folder_zip"],
                            api_visibility="private", **LIGHT)
        # A recipe fills the form (and sets the normalisation, which a dataset chosen by hand resets).
        c["recipe"].input(train_recipe, c["recipe"], RECIPE_OUTPUTS.of(c), api_name="train_recipe", **LIGHT).then(
            training_estimate, inputs_kwargs=estimated, outputs=c["estimate"], **quiet)
        c["dataset"].input(dataset_chosen, c["normalisation"], [c["normalisation"], c["recipe_note"]],
                           api_visibility="private", **LIGHT)

        form = {name: c[name] for name in (*FORM, "normalisation")}  # a gr.State: not an API parameter
        train_event = train_btn.click(train_model, inputs_kwargs=form, outputs=outputs, api_name="train",
                                      validator=validator(check_form, form), **LIGHT)
        degradation_event = c["degradation_btn"].click(degradation_experiment, [c["smoothing"]], outputs,
                                                       api_name="degradation", **LIGHT)
        resume_event = c["resume_btn"].click(resume_run, [c["resume_choice"], c["smoothing"]], outputs, api_name="resume",
                                             **LIGHT)
        replay_inputs = [c["replay_record"], c["replay_speed"], c["replay_position"], c["smoothing"]]
        replay_event = c["replay_btn"].click(replay, replay_inputs, outputs, api_name="replay", **LIGHT)
        c["replay_position"].release(replay_position, [c["replay_record"], c["replay_position"], c["smoothing"]],
                                     outputs, api_name="replay_position", **LIGHT)
        for event in (train_event, degradation_event, resume_event, replay_event):
            event.then(resumable_choices, None, c["resume_choice"], api_visibility="private", **LIGHT)
        stop_btn.click(stop_training, None, c["status"], api_name="stop", **LIGHT)
        # Ticking runs changes the set of lines: reset the plots, then draw (see LinePlotLines). On
        # .input, a student's tick: the runs list a stream updates comes with its curves.
        plots = [c["loss_plot"], c["acc_plot"]]
        c["runs"].input(lambda: (None, None), None, plots, api_visibility="private", **LIGHT).then(
            redraw, [c["runs"], c["smoothing"]], [*plots, c["legend"]], api_visibility="private", **LIGHT)
        c["smoothing"].release(redraw, [c["runs"], c["smoothing"]], [*plots, c["legend"]], api_name="redraw", **LIGHT)
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
