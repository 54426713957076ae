"""The GAN tab: train a DCGAN or WGAN live, then sample from a generator and walk its latent space.

Run alone with `python -m ui.gan`; app.py renders `build_demo()` as a tab.

Training adapts cnnzoo.gan_train: its events become rows of two line plots, the fixed-noise
sample grid, the live quality score and a status line, a few updates a second at most. It
shares the server's heavy-job limit with the Train tab (TRAIN_CONCURRENCY) and the session's one
training slot and Stop (ui/sessions.py). Generating (cnnzoo.latent) is light: its own
concurrency id with a generous limit, and capped grid and walk sizes so no request can hog the
server. Every picture goes out as a file in the session's folder (see ui/train.py: gradio
rewrites content-hashed arrays on every request).
"""
from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import pandas as pd
import torch

from cnnzoo.checkpoints import read_checkpoint_meta
from cnnzoo.gan_train import DEFAULT_STEPS, GAN_DATASETS, GAN_MODELS, PAPER_LR, GANConfig, GANTrainer, write_metrics_csv
from cnnzoo.latent import generate, interpolate, latent_noise, load_generator
from cnnzoo.quality import (CHECKPOINT_DIR, default_scorer_path, load_classifier, reference_scores,
                            score_with_references)
from cnnzoo.registry import get_entry
from cnnzoo.viz import SAMPLE_GRID_STYLE, grid_index, make_grid, save_gif, save_png
from ui.common import duration, serve, user_errors
from ui.sessions import Session, end_session, session_for
from ui.train import MAX_TRAIN_S, TRAIN_CONCURRENCY, UPDATE_EVERY_S, series_of

# Sampling and walks take milliseconds to a second: many at once, never behind training.
GENERATE_CONCURRENCY = dict(concurrency_id="gan_generate", concurrency_limit=8)
LIGHT = dict(concurrency_limit=None)
MAX_GRID_SIDE = 12  # at most 12×12 = 144 samples per grid
MAX_FRAMES = 64  # frames of a latent walk
MAX_WIDTH = 128  # the paper's generator width; wider nets are GPU work and gigabytes of memory
DEFAULT_GENERATOR = "dcgan-digits.safetensors"
GIF_SCALE = 4  # a walk of one 32×32 sample is a 36×36 GIF: shown 4× larger, by whole pixels
# Generator steps per second on 2 CPU cores at width 20, 32×32, batch 64 (gan_train.DEFAULT_STEPS).
CPU_STEPS_PER_S = {"dcgan": 9.5, "wgan": 4.0}


# ---------------------------------------------------------------------------------------------
# Generators: shipped, trained on this page, uploaded
# ---------------------------------------------------------------------------------------------


def _is_generator(path: Path) -> bool:
    try:  # the header only
        return get_entry(read_checkpoint_meta(path)["model"]).kind == "generator"
    except ValueError:
        return False


def shipped_generators() -> list[Path]:
    """The generators among checkpoints/*.safetensors, the default first."""
    files = sorted(CHECKPOINT_DIR.glob("*.safetensors")) if CHECKPOINT_DIR.is_dir() else []
    return sorted((p for p in files if _is_generator(p)), key=lambda p: p.name != DEFAULT_GENERATOR)


def _uploads_dir(session: Session) -> Path:
    return session.folder / "gan-uploads"


def generator_choices(session: Session) -> list[tuple[str, str]]:
    """(label, key) of every generator this session may use. Keys never hold a path from the user."""
    choices = [(f"{p.stem} (shipped)", f"shipped:{p.name}") for p in shipped_generators()]
    choices += [(f"{name} (trained on this page)", f"run:{name}") for name, path in list(session.generators.items())
                if os.path.exists(path)]
    uploads = _uploads_dir(session)
    choices += [(f"{p.name} (uploaded)", f"upload:{p.name}")
                for p in (sorted(uploads.glob("*.safetensors")) if uploads.is_dir() else [])]
    return choices


def generator_path(key: str, session: Session) -> Path:
    """The checkpoint behind a dropdown key, looked up only among what this session may use."""
    source, _, name = (key or "").partition(":")
    path = None
    if source == "shipped":
        path = next((p for p in shipped_generators() if p.name == name), None)
    elif source == "run" and name in session.generators:
        path = Path(session.generators[name])
    elif source == "upload" and "/" not in name and "\\" not in name and name not in ("", ".", ".."):
        path = _uploads_dir(session) / name
    if path is None or not path.is_file():
        raise ValueError(f"no generator {key!r} here: choose one from the list (generators trained or uploaded "
                         f"on another page belong to that page).")
    return path


_generators: OrderedDict[tuple, tuple[torch.nn.Module, dict]] = OrderedDict()
_generators_lock = threading.Lock()
GENERATOR_CACHE_ENTRIES = 8


def cached_generator(path: Path) -> tuple[torch.nn.Module, dict]:
    """load_generator by (path, mtime, size): thirty pages sampling the shipped model share one copy.
    Generators are only used in eval mode under no_grad, so threads may share them."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _generators_lock:
        if key in _generators:
            _generators.move_to_end(key)
            return _generators[key]
    loaded = load_generator(path)  # a ValueError says why a file is not a generator
    with _generators_lock:
        _generators[key] = loaded
        while len(_generators) > GENERATOR_CACHE_ENTRIES:
            _generators.popitem(last=False)
    return loaded


# ---------------------------------------------------------------------------------------------
# Scores: the generator beside real images (the ceiling) and noise (the floor)
# ---------------------------------------------------------------------------------------------


def scorer_path(dataset: str) -> Path | None:
    """The classifier that scores samples of `dataset` (a shipped one), or None."""
    return default_scorer_path(dataset)


_references: dict[tuple, dict] = {}
_scores: dict[tuple, dict] = {}


def references_for(path: Path, dataset: str, image_size: int) -> dict[str, dict]:
    """{"real", "noise"} score dicts through the classifier at `path` (computed once per server)."""
    key = (str(path), dataset, image_size)
    if key not in _references:
        classifier, meta = load_classifier(path)
        _references[key] = {name: s.to_dict() for name, s in
                            reference_scores(classifier, meta, dataset, image_size=image_size).items()}
    return _references[key]


def generator_score(path: Path, generator, meta: dict) -> dict | None:
    """The score stored in the checkpoint (measured at the end of training), else measured now with
    the shipped classifier of its dataset (once per file), else None."""
    if meta.get("score") and meta["score"].get("real"):
        return meta["score"]
    scorer = scorer_path(meta.get("dataset", ""))
    if scorer is None:
        return None
    key = (str(path), path.stat().st_mtime_ns, str(scorer))
    if key not in _scores:
        classifier, cmeta = load_classifier(scorer)
        scores = score_with_references(generator, classifier, cmeta, meta["dataset"])
        _scores[key] = {**scores["generator"].to_dict(), "scorer": scorer.name,
                        **{name: scores[name].to_dict() for name in ("real", "noise")}}
    return _scores[key]


def score_table(rows: dict[str, dict | None]) -> str:
    """A markdown table: classes among top-1, class-histogram entropy, mean confidence, per row."""
    lines = ["| images | classes | entropy | conf. |", "|---|---|---|---|"]
    for name, s in rows.items():
        if s:
            lines.append(f"| {name} | {s['classes_present']} / {s.get('num_classes', 10)} | {s['entropy']:.2f} "
                         f"| {s['confidence']:.2f} |")
    return "\n".join(lines)


SCORE_NOTE = ("Real test images are the ceiling, uniform noise the floor. *classes*: how many digits appear as the classifier's top-1 label; *entropy* of that class "
              "histogram (ln 10 = 2.30: perfectly balanced); *conf.*: the mean top-1 probability. Never "
              "read confidence alone: the classifier is often fully confident on pure noise.")


def score_text(score: dict | None, title: str = "generator") -> str:
    if not score:
        return ("**Quality**: no classifier of this dataset ships in checkpoints/, so samples cannot be "
                "scored here.")
    table = score_table({title: score, "real (ceiling)": score.get("real"), "noise (floor)": score.get("noise")})
    scorer = Path(str(score.get("scorer") or ""))
    judge = f" (classifier `{scorer.name if scorer.is_absolute() else scorer}`)" if score.get("scorer") else ""
    return f"**Quality** of the samples{judge}:\n\n{table}\n\n{SCORE_NOTE}"


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def expected_seconds(config: GANConfig, device: torch.device, steps: int) -> float | None:
    """A rough CPU time for the run: measured steps/s at width 20 and 32×32, scaled by the work of
    the convolutions (∝ width² and ∝ pixels). None on a GPU (fast; the first steps tell)."""
    if device.type != "cpu":
        return None
    work = (config.width / 20) ** 2 * (config.image_size / 32) ** 2 * (config.batch_size / 64)
    return steps * work / CPU_STEPS_PER_S[config.model]


def make_config(model, dataset, image_size, width, steps, lr, clip, n_critic, seed, sample_every=50) -> GANConfig:
    """GANConfig from the form; ValueError for impossible settings."""
    def whole(value, name):
        if value is None or float(value) != int(float(value)):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        return int(float(value))

    width = whole(width, "width")
    if width > MAX_WIDTH:
        raise ValueError(f"width {width} is too wide for this server: at most {MAX_WIDTH} (the paper's); 20 trains "
                         f"on a CPU in minutes. Train wider nets with `python -m train.gan --width {width}` on a GPU.")
    config = GANConfig(
        model=model, dataset=dataset, image_size=whole(image_size, "image size"), width=width,
        steps=whole(steps, "steps") if steps not in (None, "") else None,
        lr=float(lr) if lr not in (None, "", 0) else None, clip=float(clip), n_critic=whole(n_critic, "n_critic"),
        seed=whole(seed, "seed"), sample_every=whole(sample_every, "sample every"), scorer=None,
        time_limit_s=MAX_TRAIN_S,
    )  # fmt: skip
    config.validate()
    path = scorer_path(config.dataset)
    config.scorer = str(path) if path is not None else None
    return config


def loss_frames(history: list[dict], model: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Long-format rows (step, value, series): the two losses; D's outputs (DCGAN) or the
    Wasserstein estimate (WGAN)."""
    steps = [h for h in history if h["kind"] == "step"]
    if not steps:
        return None, None
    frame = pd.DataFrame(steps)
    d_name = "critic loss" if model == "wgan" else "discriminator loss"
    losses = pd.concat([pd.DataFrame({"step": frame["step"], "value": frame["d_loss"], "series": d_name}),
                        pd.DataFrame({"step": frame["step"], "value": frame["g_loss"], "series": "generator loss"})],
                       ignore_index=True)
    if model == "wgan":
        second = pd.DataFrame({"step": frame["step"], "value": frame["wasserstein"], "series": "Wasserstein estimate"})
    else:
        second = pd.concat([pd.DataFrame({"step": frame["step"], "value": frame["d_real"], "series": "D(x), real"}),
                            pd.DataFrame({"step": frame["step"], "value": frame["d_fake"], "series": "D(G(z)), fake"})],
                           ignore_index=True)
    return losses, second


def enlarged(picture: torch.Tensor, scale: int) -> torch.Tensor:
    """A uint8 (H, W, C) picture made `scale`× larger by whole pixels (sharp digits, exact clicks)."""
    return picture.repeat_interleave(scale, 0).repeat_interleave(scale, 1) if scale > 1 else picture


def display_scale(image_size: int) -> int:
    """Grids of 32×32 samples are shown 2× (about 550 px for 8×8), of 64×64 samples as they are."""
    return max(1, 64 // int(image_size))


def status_line(name: str, event, trainer: GANTrainer) -> str:
    last = next((h for h in reversed(trainer.history) if h["kind"] == "step"), None)
    parts = [f"**{name}**", f"step {event.step} / {trainer.num_steps}"]
    if last:
        parts += [f"{last['images_per_s']:,.0f} images/s", f"ETA {duration(last['eta_s'])}"]
        if last.get("wasserstein") is not None:
            parts.append(f"W estimate {last['wasserstein']:.4f}")
    parts.append(str(trainer.device))
    return " · ".join(parts)


def end_line(name: str, event) -> str:
    why = {"done": "finished", "stopped": "stopped", "nan": "stopped: the losses diverged",
           "time_limit": f"reached this server's {MAX_TRAIN_S / 60:g}-minute limit"}.get(event.reason, event.reason)
    return f"**{name}** {why} · {event.message}. Its generator is now in the **generator** list below."


def gan_train(model: str = "dcgan", dataset: str = "digits", image_size: int = 32, width: int = 20,
              steps: int | None = None, lr: float | None = None, clip: float = 0.01, n_critic: int = 5,
              seed: int = 0, sample_every: int = 50, request: gr.Request = None):
    """Train a DCGAN or WGAN; yields (losses plot, D outputs / Wasserstein plot, status, sample grid,
    score, progress GIF, files, generator list). lr None: the paper's; steps None: the default;
    the sample grid (and a GIF frame) every `sample_every` steps."""
    with user_errors():
        config = make_config(model, dataset, image_size, width, steps, lr, clip, n_critic, seed, sample_every)
    session = session_for(request)
    if not session.begin_training():
        raise gr.Error("This page is already training (here or in the Train tab): press Stop first, or wait.")
    skip = gr.skip()
    try:
        number = len(session.generators) + 1
        name = f"{config.model} · {config.dataset} #{number}"
        while name in session.generators:
            number += 1
            name = f"{config.model} · {config.dataset} #{number}"
        run_dir = session.new_run_dir(f"gan{number}-{uuid.uuid4().hex[:6]}")
        config.out_dir = str(run_dir)
        trainer = GANTrainer(config)
        steps_total = config.steps or DEFAULT_STEPS[config.model]
        guess = expected_seconds(config, trainer.device, steps_total)
        expect = f"expected about {duration(guess)} on this CPU" if guess is not None else f"on {trainer.device}"
        warning = ""
        if guess is not None and (config.width > 64 or guess > 600):
            warning = (f" ⚠ **slow**: width {config.width} at {config.image_size}×{config.image_size} is GPU work; "
                       f"width 20 at 32×32 trains in about 3 minutes on a laptop CPU.")
        if guess is not None and guess > MAX_TRAIN_S:
            warning += f" This server stops runs after {MAX_TRAIN_S / 60:g} minutes (the checkpoint is kept)."
        header = f"**{name}**: loading the data · {steps_total} steps, {expect}.{warning}"
        references = None
        if config.scorer:
            with user_errors():
                references = references_for(Path(config.scorer), config.dataset, config.image_size)
        yield None, None, header, None, score_text(None) if not config.scorer else "", None, None, skip

        events = trainer.run(session.stop)
        drawn: set[str] = set()
        last_update = 0.0
        grid_path = None
        live_score = None
        while True:
            with user_errors():  # e.g. MNIST missing offline: the core says where to put it
                event = next(events, None)
            if event is None:
                break
            picture = False
            if event.kind == "start":
                header = f"{header}<br>{event.message}"
            elif event.kind == "sample":
                grid_path = str(save_png(enlarged(event.samples, display_scale(config.image_size)),
                                         run_dir / "grids" / f"step{event.step:06d}.png"))
                picture = True
            elif event.kind == "score":
                live_score = {"classes_present": event.classes_present, "entropy": event.entropy,
                              "confidence": event.confidence, "num_classes": len(trainer.train_set.class_names),
                              "scorer": config.scorer, **(references or {})}
                picture = True
            elif event.kind == "end":
                break
            if not picture and time.monotonic() - last_update < UPDATE_EVERY_S:
                continue
            last_update = time.monotonic()
            losses, second = loss_frames(trainer.history, config.model)
            if series_of(losses) - drawn and drawn:  # new lines: reset the plots first (see ui.train)
                yield None, None, skip, skip, skip, skip, skip, skip
            drawn = series_of(losses)
            status = header if event.kind == "start" else status_line(name, event, trainer) + (
                f"<br>{warning}" if warning else "")
            score = score_text(live_score, f"step {event.step}") if live_score else skip
            yield losses, second, status, grid_path or skip, score, skip, skip, skip

        # The end event: the checkpoint, the GIF, the final score with its references.
        if event is None or event.checkpoint is None:  # diverged before the first checkpoint
            yield skip, skip, f"**{name}** stopped: {event.message if event else 'no end'}", skip, skip, skip, skip, skip
            return
        session.generators[name] = event.checkpoint
        csv = write_metrics_csv(trainer.history, run_dir / "metrics.csv")
        files = [f for f in (event.checkpoint, event.gif, str(run_dir / "discriminator.safetensors"), str(csv))
                 if f and os.path.exists(f)]
        final_score = score_text(trainer.score, f"step {event.step}") if trainer.score else skip
        losses, second = loss_frames(trainer.history, config.model)
        choices = generator_choices(session)
        yield (losses, second, end_line(name, event), grid_path or skip, final_score, event.gif, files,
               gr.update(choices=choices, value=f"run:{name}"))
    finally:
        session.end_training()


def gan_stop(request: gr.Request = None) -> str:
    """Ask this page's run to stop: it finishes the step in flight and keeps a checkpoint."""
    session = session_for(request)
    if not session.busy:
        return "Nothing is training on this page."
    session.stop.set()
    return "Stopping after the current step…"


# ---------------------------------------------------------------------------------------------
# Generating: sample grids, latent walks
# ---------------------------------------------------------------------------------------------


def _output_dir(session: Session) -> Path:
    folder = session.folder / "gan-outputs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _grid_side(value) -> int:
    side = int(value or 0)
    if not 1 <= side <= MAX_GRID_SIDE:
        raise ValueError(f"the grid is 1 to {MAX_GRID_SIDE} samples a side, got {value}")
    return side


def generator_text(key: str, session: Session) -> str:
    """What the chosen generator is, and how good its samples are."""
    with user_errors():
        path = generator_path(key, session)
        generator, meta = cached_generator(path)
        score = generator_score(path, generator, meta)
    params = sum(p.numel() for p in generator.parameters())
    title = key.partition(":")[2].removesuffix(".safetensors")
    about = (f"**{title}**: {str(meta.get('gan', 'gan')).upper()} generator of {meta.get('dataset', '?')}, "
             f"{meta['image_size']}×{meta['image_size']}, latent dimension {generator.latent_dim}, "
             f"{params / 1e6:.2f}M parameters, trained {meta.get('steps', '?')} steps.")
    return f"{about}\n\n{score_text(score)}"


def gan_sample(generator: str, seed: int = 0, grid_side: int = 8, request: gr.Request = None):
    """A grid of grid_side² samples from latent_noise(seed, grid_side²). Returns (grid PNG path,
    about the generator and its score, what was drawn (for picking samples by clicking))."""
    session = session_for(request)
    with user_errors():
        side = _grid_side(grid_side)
        path = generator_path(generator, session)
        G, meta = cached_generator(path)
    n = side * side
    images = generate(G, latent_noise(int(seed), n, G.latent_dim))  # (n, C, S, S)
    scale = display_scale(G.image_size)
    picture = enlarged(make_grid(images, nrow=side, **SAMPLE_GRID_STYLE), scale)
    out = save_png(picture, _output_dir(session) / f"grid-{uuid.uuid4().hex[:10]}.png")
    shown = dict(generator=generator, seed=int(seed), side=side, image_size=G.image_size, scale=scale)
    return str(out), generator_text(generator, session), shown


def latent_point(seed: int, sample: int, grid_side: int, latent_dim: int) -> torch.Tensor:
    """Sample #`sample` of the grid of `seed` (grid_side² samples): the same z as in gan_sample."""
    n = grid_side * grid_side
    if not 0 <= int(sample) < n:
        raise ValueError(f"sample # must be from 0 to {n - 1} (a {grid_side}×{grid_side} grid), got {sample}")
    return latent_noise(int(seed), n, latent_dim)[int(sample)]


def gan_interpolate(generator: str, start_seed: int = 1, start_sample: int = 0, end_seed: int = 2,
                    end_sample: int = 0, grid_side: int = 8, mode: str = "slerp", num_frames: int = 16,
                    request: gr.Request = None):
    """Walk from one latent point to another: sample #i of the grid of a seed (grid_side² samples,
    as gan_sample draws them). Returns (strip PNG path, GIF path, [strip, GIF]); the GIF has
    num_frames frames of (S + 4)·GIF_SCALE pixels a side for S×S samples."""
    session = session_for(request)
    with user_errors():
        side = _grid_side(grid_side)
        frames = int(num_frames or 0)
        if not 2 <= frames <= MAX_FRAMES:
            raise ValueError(f"a walk has 2 to {MAX_FRAMES} frames (both ends included), got {num_frames}")
        G, meta = cached_generator(generator_path(generator, session))
        z0 = latent_point(start_seed, start_sample, side, G.latent_dim)
        z1 = latent_point(end_seed, end_sample, side, G.latent_dim)
        path = interpolate(z0[None], z1[None], frames, mode)  # (T, 1, d)
    images = generate(G, path.flatten(0, 1))  # (T, C, S, S)
    folder, tag = _output_dir(session), uuid.uuid4().hex[:10]
    scale = display_scale(G.image_size)
    strip = make_grid(images, nrow=min(frames, 16), **SAMPLE_GRID_STYLE)  # rows of 16 frames
    strip_path = save_png(enlarged(strip, scale), folder / f"walk-{mode}-{tag}.png")
    gif_frames = torch.stack([enlarged(make_grid(image[None], **SAMPLE_GRID_STYLE), GIF_SCALE) for image in images])
    gif_path = save_gif(gif_frames, folder / f"walk-{mode}-{tag}.gif", fps=12)
    return str(strip_path), str(gif_path), [str(strip_path), str(gif_path)]


def gan_upload(file: str | None, request: gr.Request = None):
    """Keep an uploaded generator (.safetensors) for this page, check it, and select it."""
    if file is None:
        raise gr.Error("Choose a generator checkpoint (.safetensors), e.g. the GAN tab's download.")
    session = session_for(request)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file).name).lstrip(".") or "generator"
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    target = _uploads_dir(session) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.tmp")
    shutil.copyfile(file, tmp)
    with user_errors():
        try:
            load_generator(tmp)  # refuse a bad file before it joins the list
        except ValueError as err:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{name} is not a usable generator: {err}") from err
        except Exception as err:  # a file that is not a checkpoint at all (truncated, random bytes)
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{name} could not be read as a cnnzoo checkpoint ({type(err).__name__}); upload "
                             f"a generator .safetensors from the GAN tab or `python -m train.gan`.") from err
    os.replace(tmp, target)
    return gr.update(choices=generator_choices(session), value=f"upload:{name}")


def pick_sample(shown: dict | None, picking: str, evt: gr.SelectData, request: gr.Request):
    """A click on the grid: the sample under it becomes the start (first click) or the end
    (second click) of the walk. Returns the four endpoint fields, the next pick and a hint."""
    skip = gr.skip()
    if not shown or evt is None or evt.index is None:
        return skip, skip, skip, skip, picking, "Draw a grid first, then click two samples."
    x, y = evt.index[0], evt.index[1]
    scale = shown["scale"]
    n = shown["side"] ** 2
    index = grid_index(y // scale, x // scale, n, shown["image_size"], nrow=shown["side"],
                       padding=SAMPLE_GRID_STYLE["padding"])
    if index is None:
        return skip, skip, skip, skip, picking, "That was a line between samples: click inside one."
    if picking != "end":  # "start", or "walk" after a finished pair
        return (shown["seed"], index, skip, skip, "end",
                f"Start: sample #{index} of seed {shown['seed']}. Now click the end sample.")
    return (skip, skip, shown["seed"], index, "walk",
            f"End: sample #{index} of seed {shown['seed']}. Walking…")


def refresh_generators(current: str | None, request: gr.Request):
    choices = generator_choices(session_for(request))
    keys = [key for _, key in choices]
    return gr.update(choices=choices, value=current if current in keys else (keys[0] if keys else None))


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · GAN") as demo:
        gr.Markdown(
            "## Train a GAN\nA generator learns to draw digits from noise while a discriminator (DCGAN) or "
            "critic (WGAN) learns to tell them from real ones. The defaults (width 20, 32×32 digits) show all "
            "ten digits within about a minute on a laptop CPU. **Stop** keeps a checkpoint."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                model = gr.Radio(list(GAN_MODELS), value="dcgan", label="model",
                                 info="DCGAN: BCE, Adam 2e-4, β1 0.5 · WGAN: critic, RMSprop 5e-5, clipping")
                dataset = gr.Dropdown(list(GAN_DATASETS), value="digits", label="dataset",
                                      info="digits and shapes are built in; MNIST and Fashion-MNIST are read from ./data")
                with gr.Row():
                    image_size = gr.Radio([32, 64], value=32, label="image size", min_width=120)
                    width = gr.Number(20, label="width", precision=0, minimum=1, min_width=90,
                                      info="20: CPU · 128: the paper (GPU)")
                with gr.Row():
                    steps = gr.Number(DEFAULT_STEPS["dcgan"], label="steps", precision=0, minimum=1, min_width=90,
                                      info="generator updates")
                    lr = gr.Number(None, label="learning rate", minimum=0, min_width=90,
                                   info=f"blank or 0: the paper's ({PAPER_LR['dcgan']:g})")
                with gr.Row(visible=False) as wgan_row:
                    clip = gr.Number(0.01, label="clip c", minimum=0, maximum=1, min_width=90,
                                     info="0.01 the paper · 0.005 the seed")
                    n_critic = gr.Number(5, label="n_critic", precision=0, minimum=1, maximum=100, min_width=90,
                                         info="critic steps per G step")
                with gr.Row():
                    seed = gr.Number(0, label="seed", precision=0, min_width=90)
                    sample_every = gr.Number(50, label="samples every", precision=0, minimum=1, min_width=90,
                                             info="steps (a GIF frame)")
                with gr.Row():
                    train_btn = gr.Button("Train", variant="primary")
                    stop_btn = gr.Button("Stop", variant="stop")
            with gr.Column(scale=2):
                status = gr.Markdown("Press **Train** to start.", elem_id="gan-status")
                with gr.Row():
                    loss_plot = gr.LinePlot(x="step", y="value", color="series", label="losses", y_title="loss")
                    second_plot = gr.LinePlot(x="step", y="value", color="series", y_title="mean output",
                                              label="D(x) and D(G(z)): the discriminator's outputs")
                with gr.Row(equal_height=False):
                    live_grid = gr.Image(label="fixed-noise samples (live)", type="filepath",
                                         interactive=False, buttons=["download", "fullscreen"], elem_id="gan-live")
                    with gr.Column():
                        live_score = gr.Markdown(elem_id="gan-live-score", elem_classes=["cnnzoo-table"])
                        progress_gif = gr.Image(label="the fixed-noise samples over training (GIF)", type="filepath",
                                                interactive=False, buttons=["download"])
                        train_files = gr.File(label="downloads: generator, GIF, discriminator, metrics",
                                              file_count="multiple", interactive=False, height=140)

        gr.Markdown("## Generate\nSample a grid from a seed, then walk between two samples: type two seeds and "
                    "sample numbers, or **click two samples** of the grid.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                generator = gr.Dropdown([], label="generator", elem_id="gan-generator", allow_custom_value=True,
                                        info="shipped, trained on this page, or uploaded")
                upload = gr.File(label="upload a generator (.safetensors)", file_types=[".safetensors"], height=100)
                with gr.Row():
                    sample_seed = gr.Number(0, label="seed", precision=0, min_width=90)
                    grid_side = gr.Slider(1, MAX_GRID_SIDE, value=8, step=1, label="samples a side", min_width=120)
                sample_btn = gr.Button("Sample", variant="primary")
                about = gr.Markdown(elem_id="gan-about", elem_classes=["cnnzoo-table"])
            with gr.Column(scale=1):
                grid = gr.Image(label="samples: click one for the start of a walk, another for its end", type="filepath",
                                interactive=False, buttons=["download", "fullscreen"], elem_id="gan-grid")
            with gr.Column(scale=1, min_width=280):
                with gr.Row():
                    start_seed = gr.Number(1, label="start seed", precision=0, min_width=80)
                    start_sample = gr.Number(0, label="start sample #", precision=0, minimum=0, min_width=80)
                with gr.Row():
                    end_seed = gr.Number(2, label="end seed", precision=0, min_width=80)
                    end_sample = gr.Number(0, label="end sample #", precision=0, minimum=0, min_width=80)
                mode = gr.Radio([("linear", "linear"), ("spherical (slerp)", "slerp")], value="slerp",
                                label="interpolation", info="slerp stays on the shell |z| ≈ √d where the samples live")
                num_frames = gr.Slider(2, MAX_FRAMES, value=16, step=1, label="frames")
                walk_btn = gr.Button("Interpolate", variant="primary")
                hint = gr.Markdown("")
        with gr.Row(equal_height=False):
            strip = gr.Image(label="the walk, frame by frame", type="filepath", interactive=False,
                             buttons=["download", "fullscreen"], elem_id="gan-strip", scale=3)
            walk_gif = gr.Image(label="the walk (GIF)", type="filepath", interactive=False, buttons=["download"],
                                elem_id="gan-walk", scale=1)
        walk_files = gr.File(label="downloads: strip (.png) and GIF", file_count="multiple", interactive=False, height=120)
        shown = gr.State(None)  # what the grid shows: generator, seed, side, sizes (for clicks)
        picking = gr.State("start")

        # --- training ---
        def select_model(name):
            return (gr.update(visible=name == "wgan"), gr.update(value=DEFAULT_STEPS[name]),
                    gr.update(info=f"blank or 0: the paper's ({PAPER_LR[name]:g})"),
                    gr.update(label="the Wasserstein estimate (−critic loss): falls as samples improve"
                              if name == "wgan" else "D(x) and D(G(z)): the discriminator's outputs"))

        model.change(select_model, model, [wgan_row, steps, lr, second_plot], api_visibility="private", **LIGHT)
        train_outputs = [loss_plot, second_plot, status, live_grid, live_score, progress_gif, train_files, generator]
        train_event = train_btn.click(
            gan_train, [model, dataset, image_size, width, steps, lr, clip, n_critic, seed, sample_every],
            train_outputs, api_name="gan_train", **TRAIN_CONCURRENCY)
        stop_btn.click(gan_stop, None, status, api_name="gan_stop", **LIGHT)

        # --- generating ---
        sample_outputs = [grid, about, shown]
        sample_inputs = [generator, sample_seed, grid_side]
        sample_btn.click(gan_sample, sample_inputs, sample_outputs, api_name="gan_sample", **GENERATE_CONCURRENCY)
        generator.input(gan_sample, sample_inputs, sample_outputs, api_visibility="private", **GENERATE_CONCURRENCY)
        upload.upload(gan_upload, upload, generator, api_name="gan_upload", **GENERATE_CONCURRENCY).success(
            gan_sample, sample_inputs, sample_outputs, api_visibility="private", **GENERATE_CONCURRENCY)
        train_event.then(gan_sample, sample_inputs, sample_outputs, api_visibility="private", **GENERATE_CONCURRENCY)
        walk_inputs = [generator, start_seed, start_sample, end_seed, end_sample, grid_side, mode, num_frames]
        walk_outputs = [strip, walk_gif, walk_files]
        walk_btn.click(gan_interpolate, walk_inputs, walk_outputs, api_name="interpolate", **GENERATE_CONCURRENCY)
        grid.select(pick_sample, [shown, picking], [start_seed, start_sample, end_seed, end_sample, picking, hint],
                    api_visibility="private", **LIGHT).success(
            _walk_if_end, [picking, *walk_inputs], walk_outputs, api_visibility="private", **GENERATE_CONCURRENCY)
        demo.load(refresh_generators, generator, generator, api_visibility="private", **LIGHT).success(
            gan_sample, sample_inputs, sample_outputs, api_visibility="private", **GENERATE_CONCURRENCY)
        demo.unload(end_session)
    return demo


def _walk_if_end(picking: str, *walk_inputs, request: gr.Request = None):
    """After a click: walk once both ends are picked ("walk"; the next click is a new start)."""
    if picking != "walk":
        return gr.skip(), gr.skip(), gr.skip()
    return gan_interpolate(*walk_inputs, request=request)


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
