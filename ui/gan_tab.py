"""The GAN tab: train a DCGAN or WGAN live, then sample from a generator and walk its latent space.

Run alone with `python -m ui.gan_tab`; app.py renders `build_demo()` as a tab.

Training adapts cnnzoo.gan_trainer: the run trains in the browser session's job (ui.jobs), so a
reload or a closed lid does not stop it, and its events become rows of two line plots, the
fixed-noise sample grid, the live quality score and a status line on every page that follows
it, a few updates a second at most. It shares the server's training slots with the Train tab,
and the browser's one training job and Stop (ui/sessions.py). Generating (sample grids, latent
walks, uploads) and the quality score are ui/gan_generate.py's.
"""
from __future__ import annotations

import dataclasses
import functools
import uuid

import gradio as gr
import pandas as pd
import torch

from cnnzoo.compute import pick_device
from cnnzoo.replay import Replay
from cnnzoo.gan_trainer import (
    GAN_DATASETS, GAN_MODELS, PAPER_LR, DEFAULT_STEPS, GANConfig, GANTrainer, expected_seconds,
)  # fmt: skip
from ui.common import (
    LIGHT, MAX_TRAIN_S, FieldError, LinePlotLines, NumberField, Outputs, controls_and_view, duration, number, serve,
    user_errors, validator,
)  # fmt: skip
from ui import gan_generate  # gan_generate.SCORER: the tests point it at a tiny classifier
from ui.gan_generate import (
    GENERATE_CONCURRENCY, GENERATORS, MAX_FRAMES, MAX_GRID_SIDE, PICK_OUTPUTS, WALK_OUTPUTS, gan_interpolate, gan_sample,
    gan_upload, pick_sample, refresh_generators, score_text, show_picture, walk_if_end, CLICKED_WALK_OUTPUTS,
)  # fmt: skip
from ui.gpu import GPURun
from ui.i18n import say
from ui.jobs import Job, raise_error, waiting_text
from ui.replays import replay_controls, replays
from ui.recipes_view import GAN_OUTPUTS, gan_preset_values, preset_dropdown
from ui.sessions import Session, detach_page, page_load, restore_form, session_for, stop_training, unique_name

MAX_WIDTH = 128  # the paper's generator width; wider nets are GPU work and gigabytes of memory
# The form's numbers: the controls show them, make_config reads them (ui.common.NumberField).
FIELDS = {
    "width": NumberField("width", int, 1), "steps": NumberField("steps", int, 1),
    "lr": NumberField("learning rate", float, 0, 1), "clip": NumberField("clip c", float, 0, 1),
    "n_critic": NumberField("n_critic", int, 1, 100), "seed": NumberField("seed", int),
    "sample_every": NumberField("samples every", int, 1),
}
TRAIN_OUTPUTS = Outputs("losses", "second", "status", "live_grid", "live_score", "progress_gif", "train_files", "generator")


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def make_config(model, dataset, image_size, width, steps, lr, clip, n_critic, seed, sample_every) -> GANConfig:
    """GANConfig from the form; ValueError naming the field for blank or impossible settings."""
    width = FIELDS["width"].read(width)
    if width > MAX_WIDTH:
        raise FieldError("width", f"width {width} is too wide for this server: at most {MAX_WIDTH} (the paper's); 20 trains "
                         f"on a CPU in minutes. Train wider nets with `python -m train.gan --width {width}` on a GPU.")
    config = GANConfig(
        model=model, dataset=dataset, image_size=number(image_size, "image size", int), width=width,
        steps=FIELDS["steps"].read(steps) if steps not in (None, "") else None,
        lr=FIELDS["lr"].read(lr) if lr not in (None, "", 0) else None,
        clip=FIELDS["clip"].read(clip), n_critic=FIELDS["n_critic"].read(n_critic),
        seed=FIELDS["seed"].read(seed), sample_every=FIELDS["sample_every"].read(sample_every),
        scorer=gan_generate.SCORER, time_limit_s=MAX_TRAIN_S,
    )  # fmt: skip
    config.validate()
    return config


def gan_train(model: str = "dcgan", dataset: str = "digits", image_size: int = 32, width: int = 20,
              steps: int | None = None, lr: float | None = None, clip: float = 0.01, n_critic: int = 5,
              seed: int = 0, sample_every: int = 50, request: gr.Request = None):
    """Train a DCGAN or WGAN; streams (losses plot, D outputs / Wasserstein plot, status, sample grid,
    score), then the progress GIF, the files and the generator list. lr None: the paper's; steps
    None: the default; the sample grid (and a GIF frame) every `sample_every` steps. The run
    trains in the page's job (ui.jobs): a reload does not stop it, and the page picks it up."""
    with user_errors():
        config = make_config(model, dataset, image_size, width, steps, lr, clip, n_critic, seed, sample_every)
    session = session_for(request)
    session.forms["gan"] = dict(zip(TRAIN_INPUTS, (model, dataset, image_size, width, steps, lr, clip, n_critic, seed,
                                                   sample_every)))  # what a reload puts back (restore_form)
    name = unique_name(f"{config.model} · {config.dataset}", session.generators)
    header = expectation(name, config, pick_device(config.device))
    session.start_job("gan", functools.partial(gan_work, session, name, header, config))
    yield from follow_gan(session)


def gan_replay(record, speed, position, request: gr.Request = None):
    """Replay a shipped GAN record (ui.replays: the shipped DCGAN, a WGAN run) exactly as a live run
    shows: losses, the fixed-noise grids at their steps, scores, the GIF; at `speed`× the recorded
    pace, from `position` % of the run. Stop stops it; a reload follows it on."""
    with user_errors():
        (replay,) = replays(record, speed, position, "gan")
    session = session_for(request)
    name = unique_name(f"▶ {replay.name}", session.generators)  # ▶: a replay
    header = f"**{name}**: {replay.summary()}, recorded"
    session.start_job("gan", functools.partial(gan_work, session, name, header, replay), needs_slot=False)
    yield from follow_gan(session)


def gan_replay_position(record, position):
    """The scrub bar: the recorded GAN run at `position` % (losses, the grid and score of then)."""
    with user_errors():
        (replay,) = replays(record, 1, position, "gan")
    history = replay.history_at(replay.from_step)
    grids = replay.pictures_at(replay.from_step, "samples")
    scores = [r for r in history if r["kind"] == "score"]
    losses, second = loss_frames(history)
    status = (status_line(replay.name, replay.event(history, **history[-1])) if history else f"**{replay.name}** · step 0")
    return TRAIN_OUTPUTS(losses=losses, second=second, status=f"{status} · recorded",
                         live_grid=str(replay.folder / grids[-1]["file"]) if grids else None,
                         live_score=f"step {scores[-1]['step']}: {scores[-1]['message']}" if scores else "")


def gan_preset(preset: str):
    """Fill the GAN form with a preset of cnnzoo.recipes.GAN_PRESETS (its name, or "(your own
    settings)"): the seeds' DCGAN and WGAN, the WGAN paper's clip, the CPU defaults; and a note
    naming its source and what this form cannot carry (batch size, widths over MAX_WIDTH)."""
    return gan_preset_values(preset, MAX_WIDTH)


def gan_work(session: Session, name: str, header: str, config: GANConfig | Replay, job: Job) -> None:
    """The job's work: the run (or the replay of a recorded one), each event published with what
    every page shows of it."""
    if isinstance(config, Replay):
        run, scored = config, False
    else:
        folder = session.subfolder(f"gan-{uuid.uuid4().hex[:8]}")
        run, scored = GPURun(GANTrainer, dataclasses.replace(config, out_dir=str(folder))), bool(config.scorer)
    job.publish(name=name, header=header, live_score="" if scored else score_text(None))
    for event in run.run(session.stop):
        view = {}
        if event.kind == "start":
            view["header"] = header = f"{header}<br>{event.message}"
        elif event.kind == "sample":
            view["live_grid"] = show_picture(event.samples, session, "grid")
        elif event.kind == "score":  # a replay's records hold the summary, not the whole report
            view["live_score"] = score_text(event.score, f"step {event.step}") if event.score else \
                f"step {event.step}: {event.message}"
        elif event.kind == "end" and event.checkpoint:
            session.generators[name] = event.checkpoint  # it joins the page's generator list
        job.publish(event, **view)


def follow_gan(session: Session):
    """Stream the session's GAN job to this page: plots, status, the live grid and score while it
    trains; at the end the GIF, the files and the generator list (the last grid and score again: a
    client reads the final update only)."""
    lines, first = LinePlotLines(), True
    for job in session.job.follow():
        raise_error(job)
        shown = {key: job.view[key] for key in ("live_grid", "live_score") if key in job.view}
        if job.done:
            yield TRAIN_OUTPUTS(**shown, **finished_view(job, session))
            return
        event = job.latest.get("last")
        losses, second = loss_frames(event.history) if event is not None else (None, None)
        if lines.new_lines(losses) or first:
            yield TRAIN_OUTPUTS(losses=None, second=None, live_grid=None, progress_gif=None, train_files=None)
            first = False
        yield TRAIN_OUTPUTS(losses=losses, second=second, status=gan_status(job), **shown)


def gan_status(job: Job) -> str:
    if job.waiting:
        return f"{job.view.get('header', '')}<br>{waiting_text()}"
    event = job.latest.get("last")
    if event is None or event.kind == "start":
        return job.view.get("header", "loading…")
    return status_line(job.view["name"], event)


def finished_view(job: Job, session: Session) -> dict:
    """The end of a run: its checkpoint in the generator list; the GIF and the files. (The final
    score came as the last "score" event, before the end; there is none after a Stop.)"""
    name, end = job.view.get("name", "the run"), job.latest.get("end")
    if end is None:
        return dict(status=f"**{name}** stopped: no end")
    if end.checkpoint is None and end.reason != "done":  # diverged before the first checkpoint, or a stopped replay
        return dict(status=f"**{name}** stopped: {end.message}")
    files = [end.files[role] for role in ("generator", "gif", "discriminator", "metrics") if role in (end.files or {})]
    losses, second = loss_frames(end.history)
    view = dict(losses=losses, second=second, status=end_line(name, end), progress_gif=end.gif, train_files=files)
    if end.checkpoint is None:  # a record shipped without its weights
        view["status"] = f"**{name}** finished · {end.message} (recorded; its weights are not shipped)"
    else:
        view["generator"] = gr.update(choices=GENERATORS.choices(session), value=f"run:{name}")
    return view


def rejoin(request: gr.Request):
    """On page load (also after a reload): a GAN job of this browser streams on where it is."""
    session = session_for(request)
    job = session.job
    if job is None or job.kind != "gan" or (job.error and job.done):
        yield TRAIN_OUTPUTS()
        return
    yield from follow_gan(session)


def expectation(name: str, config: GANConfig, device: torch.device) -> str:
    """The first status line: the run's length and expected CPU time, and a warning when that is long."""
    steps = config.steps or DEFAULT_STEPS[config.model]
    guess = expected_seconds(config, device)
    expect = f"expected about {duration(guess)} on this CPU" if guess is not None else f"on {device}"
    warning = ""
    if guess is not None and (config.width > 64 or guess > 600):
        warning = (f" ⚠ **slow**: width {config.width} at {config.image_size}×{config.image_size} is GPU work; "
                   f"width 20 at 32×32 trains in about 3 minutes on a laptop CPU.")
    if guess is not None and guess > MAX_TRAIN_S:
        warning += f" This server stops runs after {MAX_TRAIN_S / 60:g} minutes (the checkpoint is kept)."
    return f"**{name}**: loading the data · {steps} steps, {expect}.{warning}"


def loss_frames(history: list[dict]) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Long-format rows (step, value, series): the two losses; D's outputs (DCGAN) or the
    Wasserstein estimate (WGAN)."""
    steps = [h for h in history if h["kind"] == "step"]
    if not steps:
        return None, None
    frame = pd.DataFrame(steps)
    wgan = frame["wasserstein"].notna().any()

    def rows(column, series):
        return pd.DataFrame({"step": frame["step"], "value": frame[column], "series": series})

    losses = pd.concat([rows("d_loss", "critic loss" if wgan else "discriminator loss"),
                        rows("g_loss", "generator loss")], ignore_index=True)
    if wgan:
        return losses, rows("wasserstein", "Wasserstein estimate")
    return losses, pd.concat([rows("d_real", "D(x), real"), rows("d_fake", "D(G(z)), fake")], ignore_index=True)


def status_line(name: str, event) -> str:
    last = next((h for h in reversed(event.history) if h["kind"] == "step"), None)
    parts = [f"**{name}**", say("step {step} / {total}", step=event.step, total=event.total_steps)]
    if last:
        parts += [say("{rate} images/s", rate=f"{last['images_per_s']:,.0f}"), say("ETA {eta}", eta=duration(last["eta_s"]))]
        if last.get("wasserstein") is not None:
            parts.append(say("W estimate {w}", w=f"{last['wasserstein']:.4f}"))
    parts.append(str(event.device))
    return " · ".join(parts)


def end_line(name: str, event) -> str:
    why = {"done": say("finished"), "stopped": say("stopped"), "nan": say("stopped: the losses diverged"),
           "time_limit": say("reached this server's {minutes}-minute limit", minutes=f"{MAX_TRAIN_S / 60:g}"),
           }.get(event.reason, event.reason)
    return say("**{name}** {why} · {message}. Its generator is now in the **generator** list of **Generate and walk**, "
               "its samples drawn there.", name=name, why=why, message=event.message)


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


def training_controls() -> dict:
    """The training form (the parameters of gan_train, by name) and its buttons."""
    c = {"preset": preset_dropdown(), "preset_note": gr.Markdown(elem_id="gan-preset-note")}
    c["model"] = gr.Radio(list(GAN_MODELS), value="dcgan", label="model",
                          info="DCGAN: BCE, Adam 2e-4, β1 0.5 · WGAN: critic, RMSprop 5e-5, clipping")
    c["dataset"] = gr.Dropdown(list(GAN_DATASETS), value="digits", label="dataset",
                               info="digits and shapes are built in; MNIST and Fashion-MNIST are read from ./data")
    with gr.Row():
        c["image_size"] = gr.Radio([32, 64], value=32, label="image size", min_width=120)
        c["width"] = FIELDS["width"].control(20, min_width=90, info="20: CPU · 128: the paper (GPU)", elem_id="gan-width")
    with gr.Row():
        c["steps"] = FIELDS["steps"].control(DEFAULT_STEPS["dcgan"], min_width=90, info="generator updates")
        c["lr"] = FIELDS["lr"].control(None, min_width=90, info=f"blank or 0: the paper's ({PAPER_LR['dcgan']:g})")
    with gr.Row(visible=False) as c["wgan_row"]:
        c["clip"] = FIELDS["clip"].control(0.01, min_width=90, info="0.01 the paper · 0.005 the WGAN tutorial")
        c["n_critic"] = FIELDS["n_critic"].control(5, min_width=90, info="critic steps per G step")
    with gr.Row():
        c["seed"] = FIELDS["seed"].control(0, min_width=90)
        c["sample_every"] = FIELDS["sample_every"].control(50, min_width=90, info="steps (a GIF frame)")
    with gr.Row():
        c["train_btn"] = gr.Button("Train", variant="primary")
        c["stop_btn"] = gr.Button("Stop", variant="stop")
    c.update(replay_controls("gan", "replay_"))
    return c


def training_view_components() -> dict:
    c = {"status": gr.Markdown("Press **Train** to start.", elem_id="gan-status")}
    with gr.Row():
        c["losses"] = gr.LinePlot(x="step", y="value", color="series", label="losses", y_title="loss")
        c["second"] = gr.LinePlot(x="step", y="value", color="series", y_title="mean output",
                                  label="D(x) and D(G(z)): the discriminator's outputs")
    with gr.Row(equal_height=False):
        c["live_grid"] = gr.Image(label="fixed-noise samples (live)", type="filepath", interactive=False,
                                  buttons=["download", "fullscreen"], elem_id="gan-live")
        with gr.Column():
            c["live_score"] = gr.Markdown(elem_id="gan-live-score", elem_classes=["cnnzoo-table"])
            c["progress_gif"] = gr.Image(label="the fixed-noise samples over training (GIF)", type="filepath",
                                         interactive=False, buttons=["download"])
            c["train_files"] = gr.File(label="downloads: generator, GIF, discriminator, metrics", file_count="multiple",
                                       interactive=False, height=140)
    return c


def generating_components() -> dict:
    c = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            c["generator"] = gr.Dropdown([], label="generator", elem_id="gan-generator", allow_custom_value=True,
                                         info="shipped, trained on this page, or uploaded")
            c["upload"] = gr.File(label="upload a generator (.safetensors)", file_types=[".safetensors"], height=100)
            with gr.Row():
                c["sample_seed"] = gr.Number(0, label="seed", precision=0, min_width=90)
                c["grid_side"] = gr.Slider(1, MAX_GRID_SIDE, value=8, step=1, label="samples a side", min_width=120)
            c["sample_btn"] = gr.Button("Sample", variant="primary")
            c["about"] = gr.Markdown(elem_id="gan-about", elem_classes=["cnnzoo-table"])
        with gr.Column(scale=1):
            c["grid"] = gr.Image(label="samples: click one for the start of a walk, another for its end", type="filepath",
                                 interactive=False, buttons=["download", "fullscreen"], elem_id="gan-grid")
        with gr.Column(scale=1, min_width=280):
            with gr.Row():
                c["start_seed"] = gr.Number(1, label="start seed", precision=0, min_width=80)
                c["start_sample"] = gr.Number(0, label="start sample #", precision=0, minimum=0, min_width=80)
            with gr.Row():
                c["end_seed"] = gr.Number(2, label="end seed", precision=0, min_width=80)
                c["end_sample"] = gr.Number(0, label="end sample #", precision=0, minimum=0, min_width=80)
            c["mode"] = gr.Radio([("linear", "linear"), ("spherical (slerp)", "slerp")], value="slerp",
                                 label="interpolation", info="slerp stays on the shell |z| ≈ √d where the samples live")
            c["num_frames"] = gr.Slider(2, MAX_FRAMES, value=16, step=1, label="frames")
            c["walk_btn"] = gr.Button("Interpolate", variant="primary")
            c["hint"] = gr.Markdown("")
    with gr.Row(equal_height=False):
        c["walk_gif"] = gr.Image(label="the walk (GIF)", type="filepath", interactive=False, buttons=["download"],
                                 elem_id="gan-walk", scale=1, min_width=200)
        c["strip"] = gr.Image(label="the walk, frame by frame", type="filepath", interactive=False,
                              buttons=["download", "fullscreen"], elem_id="gan-strip", scale=2)
    c["walk_files"] = gr.File(label="downloads: strip (.png) and GIF", file_count="multiple", interactive=False, height=120)
    return c


def select_model(name, steps):
    """The model's fields: its default steps (unless the student typed a number of their own, or a
    reload put one back), the paper's learning rate, its second plot."""
    default = steps in (None, "", *DEFAULT_STEPS.values())
    return (gr.update(visible=name == "wgan"), gr.update(value=DEFAULT_STEPS[name]) if default else gr.update(),
            gr.update(info=f"blank or 0: the paper's ({PAPER_LR[name]:g})"),
            gr.update(label="the Wasserstein estimate (−critic loss): falls as samples improve"
                      if name == "wgan" else "D(x) and D(G(z)): the discriminator's outputs"))


TRAIN_INPUTS = ("model", "dataset", "image_size", "width", "steps", "lr", "clip", "n_critic", "seed", "sample_every")
SAMPLE_INPUTS = ("generator", "sample_seed", "grid_side")
WALK_INPUTS = ("generator", "start_seed", "start_sample", "end_seed", "end_sample", "grid_side", "mode", "num_frames")


INTRO = """## GANs: a generator learns to draw
A generator learns to draw digits from noise while a discriminator (DCGAN) or critic (WGAN) learns
to tell them from real ones. **Generate and walk** samples a trained generator (the shipped DCGAN,
one trained on this page, or an upload) and walks between two of its samples; **Train a GAN** trains
one: the defaults (width 20, 32×32 digits) show all ten digits within about a minute on a laptop
CPU, and **Stop** keeps a checkpoint."""
GENERATE_INTRO = ("Sample a grid from a seed, then walk between two samples: type two seeds and sample numbers, "
                  "or **click two samples** of the grid.")


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · GAN") as demo:
        gr.Markdown(INTRO)
        # Two tabs, not one page: on a phone the two stacked were one 5,800-px scroll (issue #14).
        with gr.Tabs():
            with gr.Tab("Generate and walk", elem_id="gan-generate-tab"):
                gr.Markdown(GENERATE_INTRO)
                c = generating_components()
            with gr.Tab("Train a GAN", elem_id="gan-train-tab"):
                c.update(controls_and_view(training_controls, training_view_components))
        c["shown"] = gr.State(None)  # what the grid shows: generator, seed, side, sizes (for clicks)
        c["picking"] = gr.State("start")

        def by_name(names):
            return [c[name] for name in names]

        # --- training ---
        c["model"].change(select_model, by_name(["model", "steps"]), by_name(["wgan_row", "steps", "lr", "second"]),
                          api_visibility="private", **LIGHT)
        train_event = c["train_btn"].click(gan_train, by_name(TRAIN_INPUTS), TRAIN_OUTPUTS.of(c), api_name="gan_train",
                                           validator=validator(make_config, by_name(TRAIN_INPUTS)), **LIGHT)
        c["stop_btn"].click(stop_training, None, c["status"], api_name="gan_stop", **LIGHT)
        replay_event = c["replay_btn"].click(gan_replay, by_name(["replay_record", "replay_speed", "replay_position"]),
                                             TRAIN_OUTPUTS.of(c), api_name="gan_replay", **LIGHT)
        c["replay_position"].release(gan_replay_position, by_name(["replay_record", "replay_position"]),
                                     TRAIN_OUTPUTS.of(c), api_name="gan_replay_position", **LIGHT)
        c["preset"].input(gan_preset, c["preset"], GAN_OUTPUTS.of(c), api_name="gan_preset", **LIGHT)

        # --- generating ---
        sample = dict(fn=gan_sample, inputs=by_name(SAMPLE_INPUTS), outputs=by_name(["grid", "about", "shown"]),
                      **GENERATE_CONCURRENCY)
        c["sample_btn"].click(**sample, api_name="gan_sample")
        c["generator"].input(**sample, api_visibility="private")
        c["upload"].upload(gan_upload, c["upload"], c["generator"], api_name="gan_upload", **GENERATE_CONCURRENCY).success(
            **sample, api_visibility="private")
        train_event.then(**sample, api_visibility="private")
        replay_event.then(**sample, api_visibility="private")
        walk_outputs = WALK_OUTPUTS.of(c)
        c["walk_btn"].click(gan_interpolate, by_name(WALK_INPUTS), walk_outputs, api_name="interpolate",
                            **GENERATE_CONCURRENCY)
        c["grid"].select(pick_sample, by_name(["shown", "picking"]), PICK_OUTPUTS.of(c), api_visibility="private",
                         **LIGHT).success(
            walk_if_end, [c["picking"], *by_name(WALK_INPUTS)], CLICKED_WALK_OUTPUTS.of(c), api_visibility="private",
            **GENERATE_CONCURRENCY)
        loaded = page_load(demo)
        loaded.then(refresh_generators, c["generator"], c["generator"], api_visibility="private", **LIGHT).success(
            **sample, api_visibility="private")
        # A reload (or a Wi-Fi blip) finds a run in progress and streams it on.
        loaded.then(rejoin, None, TRAIN_OUTPUTS.of(c), api_visibility="private", **LIGHT)
        restore_form(loaded, "gan", {name: c[name] for name in TRAIN_INPUTS})  # and the form Train was pressed with
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
