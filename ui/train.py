"""The Train tab: train a classifier with live curves, stop it, resume it, compare runs.

Run alone with `python -m ui.train`; app.py renders `build_demo()` as a tab.

The handlers adapt cnnzoo.train: the training generator's events become rows of two line plots
and a status line, at most a few updates a second. Runs, their checkpoints and their Stop
belong to the browser session that started them (ui/sessions.py). Training shares one
deliberate concurrency limit; Stop and the plot controls are light and never wait behind it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from PIL import Image

from cnnzoo import data as datasets
from cnnzoo.cam import CAMTimeline
from cnnzoo.checkpoints import load_checkpoint, read_checkpoint_meta
from cnnzoo.recipes import RECIPES
from cnnzoo.registry import list_models
from cnnzoo.train import (
    OPTIMIZERS, SCHEDULES, TrainConfig, Trainer, confusion_matrix, predict_logits, probe_timeline, save_cam_timeline,
    write_metrics_csv,
)
from ui.common import KNOBS, chosen_knobs, duration, knob_controls, knob_updates, serve, user_errors
from ui.sessions import Run, Session, end_session, session_for

# Training is the heavy event: a deliberate number of runs at once for the whole server (a
# Space has 2 CPU cores), each bounded in time; the rest wait in the bounded queue.
TRAIN_CONCURRENCY = dict(concurrency_id="train", concurrency_limit=int(os.environ.get("CNNZOO_TRAIN_CONCURRENCY", 2)))
MAX_TRAIN_S = float(os.environ.get("CNNZOO_MAX_TRAIN_MINUTES", 20)) * 60
UPDATE_EVERY_S = 0.4  # UI refreshes at most ~2.5 times a second
LIGHT = dict(concurrency_limit=None)  # microseconds of work: never wait for a slot

# The recipe `python -m train.classifier --recipe digits-fast`: about 98% on digits in seconds.
DEFAULTS = {"momentum": 0.9, "augment": True, "seed": 0, **RECIPES["digits-fast"]}
IMAGE_SIZES = ["native", "16", "28", "32", "64"]
# The ResNet paper's Figure 1/6 at classroom scale: plain nets get *worse* with depth, residual
# nets better, on the same data and recipe.
DEGRADATION_MODELS = ["plain20", "resnet20", "plain56", "resnet56"]
DEGRADATION_RECIPE = dict(dataset="digits", image_size=16, epochs=12, batch_size=64, optimizer="sgd",
                          lr=0.05, schedule="onecycle", weight_decay=1e-4, augment=True, seed=0)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def train_model(
    model_name, depth, widen_factor, growth_rate, reduction, bottleneck, dropout, shortcut, pool,
    width, downsample, num_classes, dataset, image_size, epochs, batch_size, optimizer,
    lr, momentum, weight_decay, schedule, augment, label_smoothing, seed, train_subset,
    val_fraction, smoothing, folder_zip=None, cam_timeline=True, probe_index=0, request: gr.Request = None,
):  # fmt: skip
    """Train one classifier; yields (loss plot, accuracy plot, status, confusion, gallery, files, runs,
    CAM timeline). With cam_timeline, the CAM of test image #probe_index is recorded every epoch."""
    knob_values = dict(
        depth=depth, widen_factor=widen_factor, growth_rate=growth_rate, reduction=reduction,
        bottleneck=bottleneck, dropout=dropout, shortcut=shortcut, pool=pool, width=width,
        downsample=downsample,
    )  # fmt: skip
    with user_errors():
        knobs = chosen_knobs(model_name, knob_values)
        config = TrainConfig(
            model=model_name, knobs=knobs, dataset=dataset, dataset_path=_upload_path(folder_zip, dataset),
            image_size=None if image_size in (None, "native") else int(image_size),
            epochs=float(epochs), batch_size=int(batch_size), optimizer=optimizer, lr=float(lr),
            momentum=float(momentum), weight_decay=float(weight_decay), schedule=schedule,
            augment=bool(augment), label_smoothing=float(label_smoothing), seed=int(seed),
            train_subset=int(train_subset) if train_subset else None, val_fraction=float(val_fraction),
            time_limit_s=MAX_TRAIN_S,
        )  # fmt: skip
        config.validate()
    probe = int(probe_index or 0) if cam_timeline else None
    yield from _train_runs(session_for(request), [config], smoothing, probe)


def degradation_experiment(smoothing, request: gr.Request):
    """plain20, resnet20, plain56, resnet56 on the same data: the ResNet paper's degradation."""
    configs = [TrainConfig(model=name, **DEGRADATION_RECIPE, time_limit_s=MAX_TRAIN_S / 4) for name in DEGRADATION_MODELS]
    yield from _train_runs(session_for(request), configs, smoothing, probe_index=0)


def resume_run(run_name, smoothing, request: gr.Request):
    """Continue a stopped run of this session where it ended (same curves, same checkpoint)."""
    session = session_for(request)
    run = session.runs.get(run_name or "")
    if run is None or run.checkpoint is None:
        raise gr.Error("Choose a run of this session that was stopped (the 'resume' list), then press Resume.")
    yield from _train_runs(session, [run], smoothing)


def stop_training(request: gr.Request) -> str:
    """Ask this session's run to stop: it finishes the current step and saves a checkpoint."""
    session = session_for(request)
    if not session.busy:
        return "Nothing is training in this session."
    session.stop.set()
    return "Stopping after the current step…"


def redraw(selected_runs, smoothing, request: gr.Request):
    """Re-draw both plots for the chosen runs and smoothing (no training involved)."""
    session = session_for(request)
    runs = [session.runs[name] for name in selected_runs or [] if name in session.runs]
    return curves(runs, smoothing)


# ---------------------------------------------------------------------------------------------
# The training driver shared by the three training handlers
# ---------------------------------------------------------------------------------------------


def _train_runs(session: Session, jobs: list, smoothing: float, probe_index: int | None = None):
    """Run configs (new runs) or Run records (resumes) one after another, streaming the view.

    probe_index: record the CAM timeline of that test image (None: no timeline).
    """
    if not session.begin_training():
        raise gr.Error("This session is already training: press Stop first, or wait for it to finish.")
    shown: list[Run] = []
    timeline = None
    drawn: set[str] = set()  # the series the plots were last given
    try:
        for job in jobs:
            with user_errors():
                if isinstance(job, Run):
                    run = job
                    trainer = Trainer(resume_from=run.checkpoint, epochs=None)
                    trainer.config.time_limit_s = MAX_TRAIN_S
                else:
                    run = Run(name=session.unique_run_name(f"{job.model} · {job.dataset}"), config=job.to_dict())
                    job.out_dir = str(session.new_run_dir(f"run{len(session.runs) + 1}"))
                    trainer = Trainer(job)
            session.runs[run.name] = run
            shown.append(run)
            run.status = "running"
            last_update = 0.0
            events = trainer.run(session.stop)
            if probe_index is not None:
                with user_errors():
                    timeline = probe_timeline(TrainConfig.from_dict(run.config), probe_index)
                events = timeline.record(events, trainer)
            while True:
                with user_errors():  # dataset missing offline, folder errors... surface as gr.Error
                    event = next(events, None)
                if event is None:
                    break
                run.history = trainer.history
                if event.kind == "end":  # shown at once: the report below takes a moment
                    run.status = event.reason
                    run.checkpoint = event.checkpoint or run.checkpoint
                    status = final_line(run) + " · preparing the test report…"
                elif time.monotonic() - last_update < UPDATE_EVERY_S:
                    continue
                else:
                    status = status_line(run, event, trainer)
                last_update = time.monotonic()
                loss_df, acc_df = curves(shown, smoothing)
                if series_of(loss_df) - drawn and drawn:  # a new line: reset the plots first
                    yield None, None, *(gr.skip(),) * 6
                drawn = series_of(loss_df)
                yield loss_df, acc_df, status, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            if trainer.config.out_dir:
                run.csv = str(write_metrics_csv(trainer.history, os.path.join(trainer.config.out_dir, "metrics.csv")))
            if session.stop.is_set():
                break
        finished = shown[-1]
        confusion, gallery = test_report(finished)
        strip, gif = timeline_files(timeline, finished)
        files = [f for f in (finished.checkpoint, finished.csv, gif) if f]
        names = list(session.runs)
        loss_df, acc_df = curves(shown, smoothing)
        yield (
            loss_df, acc_df, final_line(finished), confusion, gallery, files,
            gr.update(choices=names, value=[r.name for r in shown]), strip,
        )  # fmt: skip
    finally:
        session.end_training()


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def timeline_files(timeline: CAMTimeline | None, run: Run) -> tuple[str | None, str | None]:
    """(strip PNG, GIF) of a run's CAM timeline, saved beside its checkpoint."""
    if timeline is None or not timeline.frames or not run.checkpoint:
        return None, None
    class_names = read_checkpoint_meta(run.checkpoint)["class_names"]
    strip, gif = save_cam_timeline(timeline, Path(run.checkpoint).parent, class_names)
    return str(strip), str(gif)


def series_of(frame: pd.DataFrame | None) -> set[str]:
    """The lines a plot frame holds. Gradio 6.31's LinePlot keeps drawing only the lines of the
    first data it was given, so when a line is added the plot is reset (set to None) first."""
    return set() if frame is None else set(frame["series"].unique())


def curves(runs: list[Run], smoothing: float = 0.6) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Long-format rows (epoch, value, series) for the loss and accuracy plots.

    Train curves are smoothed like TensorBoard (exponential moving average with weight
    `smoothing`); test curves are already averages over the test set and are drawn as they are.
    """
    loss_rows, acc_rows = [], []
    for run in runs:
        steps = [h for h in run.history if h["kind"] == "step"]
        evals = [h for h in run.history if h["kind"] == "eval"]
        label = run.name
        if steps:
            frame = pd.DataFrame(steps)
            alpha = 1 - min(max(float(smoothing or 0), 0.0), 0.99)
            loss = frame["train_loss"].ewm(alpha=alpha, adjust=True).mean()
            acc = frame["train_acc"].ewm(alpha=alpha, adjust=True).mean() * 100
            loss_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": loss, "series": f"{label} · train"}))
            acc_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": acc, "series": f"{label} · train"}))
        if evals:
            frame = pd.DataFrame(evals)
            for split in ("test", "val"):
                if frame[f"{split}_loss"].notna().any():
                    loss_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_loss"], "series": f"{label} · {split}"}))
                    acc_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_acc"] * 100, "series": f"{label} · {split}"}))
    # None, not an empty frame: a LinePlot first given zero rows keeps an empty colour scale
    # and then draws later rows invisibly (seen in Chromium with gradio 6.31).
    return (pd.concat(loss_rows, ignore_index=True) if loss_rows else None,
            pd.concat(acc_rows, ignore_index=True) if acc_rows else None)


def status_line(run: Run, event, trainer: Trainer) -> str:
    c = trainer.config
    if event.kind == "start":
        return f"**{run.name}** · {event.message}"
    last_step = next((h for h in reversed(trainer.history) if h["kind"] == "step"), None)
    last_eval = next((h for h in reversed(trainer.history) if h["kind"] == "eval"), None)
    parts = [f"**{run.name}**", f"epoch {event.epoch:.2f} / {c.epochs:g}", f"step {event.step}"]
    if last_step:
        parts += [f"{last_step['images_per_s']:,.0f} images/s", f"ETA {duration(last_step['eta_s'])}",
                  f"lr {last_step['lr']:.3g}"]
    if last_eval and last_eval["test_acc"] is not None:
        parts.append(f"test acc {last_eval['test_acc']:.1%}")
    parts.append(str(trainer.device))
    return " · ".join(parts)


def final_line(run: Run) -> str:
    last_eval = next((h for h in reversed(run.history) if h["kind"] == "eval"), None)
    acc = f" · test accuracy **{last_eval['test_acc']:.2%}**" if last_eval else ""
    end = next((h for h in reversed(run.history) if h["kind"] == "end"), None)
    why = {
        "done": "finished", "stopped": "stopped: press Resume to continue", "nan": "stopped: the loss diverged",
        "time_limit": f"reached this server's {MAX_TRAIN_S / 60:g}-minute limit: press Resume to continue",
    }.get(run.status, run.status)  # fmt: skip
    message = f"<br>{end['message']}" if end and run.status == "nan" else ""
    return f"**{run.name}** {why}{acc}{message}"


def test_report(run: Run, max_images: int = 24):
    """Confusion matrix figure and misclassified test images (with captions) of a run's checkpoint."""
    if not run.checkpoint or not os.path.exists(run.checkpoint):
        return None, []
    model, meta = load_checkpoint(run.checkpoint)
    config = TrainConfig.from_dict(run.config)
    test = datasets.load_dataset(config.dataset, "test", image_size=config.image_size, path=config.dataset_path)
    logits = predict_logits(model, test.images, test.mean, test.std)
    probs = logits.softmax(1)
    preds = probs.argmax(1)
    names = meta["class_names"]
    figure = confusion_figure(confusion_matrix(preds, test.labels, len(names)), names, run.name)
    wrong = (preds != test.labels).nonzero().flatten()[:max_images].tolist()
    # Files, not arrays: gradio caches an array by content hash and rewrites that file on every
    # request, so thirty students with identical default runs would read half-written images.
    folder = Path(run.checkpoint).parent / "misclassified"
    folder.mkdir(exist_ok=True)
    gallery = []
    for i in wrong:
        path = folder / f"test{i}.png"
        Image.fromarray(display_image(test.images[i])).save(path)
        gallery.append((str(path), f"predicted {names[preds[i]]} ({probs[i, preds[i]]:.0%}) · true {names[test.labels[i]]}"))
    return figure, gallery


def confusion_figure(matrix: torch.Tensor, class_names: list[str], title: str) -> Figure:
    """Counts with rows = true class, columns = predicted class; the diagonal is right."""
    k = len(class_names)
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix.numpy(), cmap="Blues")
    if k <= 20:
        ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize="small")
        ax.set_yticks(range(k), class_names, fontsize="small")
        top = matrix.max().item() or 1
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize="x-small",
                            color="white" if matrix[i, j] > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: test confusion matrix", fontsize="medium")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def display_image(image: torch.Tensor, min_side: int = 96) -> np.ndarray:
    """uint8 (C, H, W) -> (H', W'[, 3]) numpy, enlarged by whole pixels so 8×8 digits are visible."""
    scale = max(1, -(-min_side // max(image.shape[1:])))
    big = image.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    array = big.permute(1, 2, 0).numpy()
    return array[..., 0] if array.shape[2] == 1 else array


def _upload_path(upload, dataset: str) -> str | None:
    if dataset != "folder":
        return None
    if upload is None:
        raise ValueError("For the 'folder' dataset, upload a .zip with one sub-folder of images per class.")
    return upload if isinstance(upload, str) else getattr(upload, "name", None)


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · train") as demo:
        gr.Markdown(
            "Train a classifier and watch it learn. The defaults train a small CNN on handwritten "
            "digits (built in, no download) to about **98% test accuracy in seconds** on a laptop CPU. "
            "**Stop** keeps a checkpoint you can **Resume**; every run of this page can be overlaid."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                model = gr.Dropdown(list_models(kind="classifier"), value=DEFAULTS["model"], label="network", filterable=True)
                knobs = knob_controls()
                dataset = gr.Dropdown([n for n in datasets.dataset_names()], value=DEFAULTS["dataset"], label="dataset",
                                      info="digits and shapes are built in; MNIST, Fashion-MNIST and CIFAR are read from ./data")
                folder_zip = gr.File(label="image folder as .zip (one sub-folder per class)", file_types=[".zip"], visible=False)
                image_size = gr.Dropdown(IMAGE_SIZES, value="native", label="image size")
                with gr.Row():
                    epochs = gr.Number(DEFAULTS["epochs"], label="epochs", minimum=0.1, maximum=500, min_width=90)
                    batch_size = gr.Number(DEFAULTS["batch_size"], label="batch size", precision=0, minimum=1, maximum=4096, min_width=90)
                with gr.Accordion("optimizer and schedule", open=False):
                    optimizer = gr.Radio(list(OPTIMIZERS), value=DEFAULTS["optimizer"], label="optimizer")
                    with gr.Row():
                        lr = gr.Number(DEFAULTS["lr"], label="learning rate", min_width=90)
                        momentum = gr.Number(DEFAULTS["momentum"], label="momentum", minimum=0, maximum=0.999, min_width=90)
                        weight_decay = gr.Number(DEFAULTS["weight_decay"], label="weight decay", minimum=0, min_width=90)
                    schedule = gr.Radio(list(SCHEDULES), value=DEFAULTS["schedule"], label="learning-rate schedule",
                                        info="multistep: ×0.2 at 30/60/80% of the run (the WRN paper's 60/120/160 of 200)")
                    augment = gr.Checkbox(DEFAULTS["augment"], label="augmentation (random crop, and flip where it keeps the label)")
                    label_smoothing = gr.Slider(0, 0.3, value=0.0, step=0.05, label="label smoothing")
                    with gr.Row():
                        cam_timeline = gr.Checkbox(True, label="record the CAM timeline of one test image")
                        probe_index = gr.Number(0, label="probe: test image #", precision=0, minimum=0, min_width=90)
                    with gr.Row():
                        seed = gr.Number(DEFAULTS["seed"], label="seed", precision=0, min_width=90)
                        train_subset = gr.Number(0, label="training images (0 = all)", precision=0, minimum=0, min_width=90)
                        val_fraction = gr.Slider(0, 0.3, value=0.0, step=0.05, label="validation split (picks 'best')")
                with gr.Row():
                    train_btn = gr.Button("Train", variant="primary")
                    stop_btn = gr.Button("Stop", variant="stop")
            with gr.Column(scale=2):
                status = gr.Markdown("Press **Train** to start.", elem_id="train-status")
                with gr.Row():
                    loss_plot = gr.LinePlot(x="epoch", y="value", color="series", label="loss", y_title="cross-entropy")
                    acc_plot = gr.LinePlot(x="epoch", y="value", color="series", label="accuracy (%)", y_title="accuracy %")
                smoothing = gr.Slider(0, 0.99, value=0.6, step=0.01, label="smoothing of the train curves")
                runs = gr.CheckboxGroup([], label="runs to show (this page's runs)")
                with gr.Row():
                    resume_choice = gr.Dropdown([], label="resume", info="stopped runs of this page", allow_custom_value=True)
                    resume_btn = gr.Button("Resume")
                    degradation_btn = gr.Button("Degradation experiment: plain vs residual, 20 vs 56 layers")
                with gr.Row():
                    confusion = gr.Plot(label="confusion matrix (test set)", show_label=False, format="png", elem_id="train-confusion")
                    gallery = gr.Gallery(label="misclassified test images", columns=6, height=320, allow_preview=False,
                                         object_fit="contain")
                timeline = gr.Image(label="CAM timeline: where the network looks on the probe image, epoch by epoch",
                                    type="filepath", interactive=False, buttons=["download", "fullscreen"])
                files = gr.File(elem_id="train-files", label="downloads: checkpoint (.safetensors), metrics (.csv), CAM timeline (.gif)",
                                file_count="multiple", interactive=False)

        knob_inputs = [knobs[name] for name in KNOBS]
        outputs = [loss_plot, acc_plot, status, confusion, gallery, files, runs, timeline]

        def select_model(name):  # the dataset decides the number of classes
            return knob_updates(name, hide=("num_classes",))

        gr.on([model.change, demo.load], select_model, model, knob_inputs, api_visibility="private", **LIGHT)
        dataset.change(lambda d: gr.update(visible=d == "folder"), dataset, folder_zip, api_visibility="private", **LIGHT)

        train_inputs = [model, *knob_inputs, dataset, image_size, epochs, batch_size, optimizer, lr,
                        momentum, weight_decay, schedule, augment, label_smoothing, seed, train_subset, val_fraction,
                        smoothing, folder_zip, cam_timeline, probe_index]
        train_event = train_btn.click(train_model, train_inputs, outputs, api_name="train", **TRAIN_CONCURRENCY)
        degradation_event = degradation_btn.click(degradation_experiment, [smoothing], outputs, api_name="degradation", **TRAIN_CONCURRENCY)
        resume_event = resume_btn.click(resume_run, [resume_choice, smoothing], outputs, api_name="resume", **TRAIN_CONCURRENCY)
        for event in (train_event, degradation_event, resume_event):
            event.then(_resumable_choices, None, resume_choice, api_visibility="private", **LIGHT)
        stop_btn.click(stop_training, None, status, api_name="stop", **LIGHT)
        # Choosing runs changes the set of lines: reset the plots, then draw (see series_of).
        runs.change(lambda: (None, None), None, [loss_plot, acc_plot], api_visibility="private", **LIGHT).then(
            redraw, [runs, smoothing], [loss_plot, acc_plot], api_visibility="private", **LIGHT)
        smoothing.release(redraw, [runs, smoothing], [loss_plot, acc_plot], api_name="redraw", **LIGHT)
        demo.unload(end_session)
    return demo


def _resumable_choices(request: gr.Request):
    session = session_for(request)
    names = [r.name for r in session.runs.values() if r.status in ("stopped", "time_limit") and r.checkpoint]
    return gr.update(choices=names, value=names[-1] if names else None)


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
