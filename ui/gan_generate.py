"""The GAN tab's generating half, and how good a generator's samples are: sample grids from a
seed, latent walks between two samples (typed in or clicked on the grid), generator uploads.

Generating adapts cnnzoo.latent (sample_grid, walk): light, on its own concurrency id with a
generous limit, and with capped grid and walk sizes so no request can hog the server. Pictures
are enlarged by whole pixels (sharp digits, exact clicks) and go out as files in the page's
folder (gradio rewrites content-hashed arrays on every request).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

import gradio as gr
import torch

from cnnzoo.cache import KeyedCache
from cnnzoo.gan_trainer import FINAL_SCORE_SAMPLES
from cnnzoo.latent import latent_noise, load_generator, sample_grid, walk
from cnnzoo.quality import find_scorer, reference_scores, score_generator, score_report
from cnnzoo.files import atomic_write
from cnnzoo.viz import SAMPLE_GRID_STYLE, enlarge, gif_bytes, grid_index, make_grid, png_bytes, whole_scale
from ui.common import Outputs, number, user_errors
from ui.i18n import say
from ui.library import ModelLibrary, file_key
from ui.sessions import Session, session_for

# Sampling and walks take milliseconds to a second: many at once, never behind training.
GENERATE_CONCURRENCY = dict(concurrency_id="gan_generate", concurrency_limit=8)
MAX_GRID_SIDE = 12  # at most 12×12 = 144 samples per grid
MAX_FRAMES = 64  # frames of a latent walk
GIF_SIDE = 280  # a walk's GIF is at least this many pixels a side (by whole pixels: 36×36 for one
# 32×32 sample becomes 288×288), to be watched from the back of a class (it was 144: issue #14)
SCORER = "auto"  # the classifier that scores samples: "auto" is the shipped one of the generator's dataset

GENERATORS = ModelLibrary("generator", trained=lambda session: dict(session.generators), load=load_generator,
                          uploads="gan-uploads", default="dcgan-digits.safetensors")
_scores = KeyedCache(max_entries=32)  # a generator file's measured score, when its checkpoint has none


# ---------------------------------------------------------------------------------------------
# Scores: the generator beside real images (the ceiling) and noise (the floor)
# ---------------------------------------------------------------------------------------------


def generator_score(path: Path, generator, meta: dict) -> dict | None:
    """The score stored in the checkpoint (measured at the end of training), else measured now with
    the scorer of its dataset (once per file for the whole server), else None."""
    if meta.get("score") and meta["score"].get("real"):
        return meta["score"]

    def measure():
        scorer = find_scorer(SCORER, meta.get("dataset", ""))
        if scorer is None:
            return None
        score = score_generator(generator, scorer.classifier, scorer.meta, n=FINAL_SCORE_SAMPLES)
        references = reference_scores(scorer.classifier, scorer.meta, meta["dataset"], image_size=generator.image_size)
        return score_report(score, references, scorer.name)

    return _scores.get((file_key(path), SCORER), measure)


SCORE_NOTE = ("Real test images are the ceiling, uniform noise the floor. *classes*: how many digits appear as the "
              "classifier's top-1 label; *entropy* of that class histogram (ln 10 = 2.30: perfectly balanced); "
              "*conf.*: the mean top-1 probability. Never read confidence alone: the classifier is often fully "
              "confident on pure noise.")


def score_text(score: dict | None, title: str = "generator") -> str:
    """The score report (quality.score_report) as a table: classes among top-1, entropy, confidence."""
    if not score:
        return "**Quality**: no classifier of this dataset ships in checkpoints/, so samples cannot be scored here."
    lines = ["| images | classes | entropy | conf. |", "|---|---|---|---|"]
    for name, s in {title: score, "real (ceiling)": score.get("real"), "noise (floor)": score.get("noise")}.items():
        if s:
            lines.append(f"| {name} | {s['classes_present']} / {s.get('num_classes', 10)} | {s['entropy']:.2f} "
                         f"| {s['confidence']:.2f} |")
    judge = f" (classifier `{Path(str(score['scorer'])).name}`)" if score.get("scorer") else ""
    return f"**Quality** of the samples{judge}:\n\n" + "\n".join(lines) + f"\n\n{SCORE_NOTE}"


# ---------------------------------------------------------------------------------------------
# Generating: sample grids, latent walks
# ---------------------------------------------------------------------------------------------


def display_scale(image_size: int) -> int:
    """Grids of 32×32 samples are shown 2× (about 550 px for 8×8), of 64×64 samples as they are."""
    return max(1, 64 // int(image_size))


def png_of(picture: torch.Tensor, scale: int = 2) -> bytes:
    """A uint8 (H, W, C) picture enlarged `scale`× by whole pixels, as PNG bytes."""
    return png_bytes(enlarge(picture, scale))


def new_stem(session: Session, kind: str) -> Path:
    """A new file name (without its suffix) of the page's GAN pictures."""
    return session.subfolder("gan-outputs") / f"{kind}-{uuid.uuid4().hex[:10]}"


def show_picture(picture: torch.Tensor, session: Session, kind: str, scale: int = 2) -> str:
    """A uint8 (H, W, C) picture enlarged `scale`× by whole pixels, as a new PNG of the page."""
    return str(atomic_write(new_stem(session, kind).with_suffix(".png"), png_of(picture, scale), durable=False))


# Grids and walks are deterministic: the same generator file, latent points and drawing give the
# same pixels. Each is drawn and encoded once and shared by a class (thirty students pressing
# "sample" on seed 0 cost one); every page still gets a file of its own, in its own folder.
_drawn: KeyedCache[tuple[bytes, ...]] = KeyedCache(max_entries=256, max_bytes=96_000_000,
                                                    size=lambda files: sum(map(len, files)))


def page_files(session: Session, kind: str, suffixes: tuple[str, ...], key: tuple,
               draw: Callable[[], tuple[bytes, ...]]) -> list[str]:
    """The files drawn for `key` (draw() the first time: one bytes per suffix), written as new
    files of this page: the same name for all, one suffix each."""
    stem = new_stem(session, kind)
    return [str(atomic_write(stem.with_suffix(suffix), data, durable=False))
            for suffix, data in zip(suffixes, _drawn.get(key, draw))]


def checked_side(value) -> int:
    side = number(value, "samples a side", int)
    if not 1 <= side <= MAX_GRID_SIDE:
        raise ValueError(f"the grid is 1 to {MAX_GRID_SIDE} samples a side, got {value}")
    return side


def generator_text(key: str, session: Session) -> str:
    """What the chosen generator is, and how good its samples are."""
    with user_errors():
        path = GENERATORS.path(key, session)
        generator, meta = GENERATORS.load(key, session)
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
        side, seed = checked_side(grid_side), number(seed, "seed", int)
        G, _ = GENERATORS.load(generator, session)
        identity = file_key(GENERATORS.path(generator, session))
    scale = display_scale(G.image_size)
    picture, = page_files(session, "grid", (".png",), ("grid", identity, seed, side),
                          lambda: (png_of(sample_grid(G, seed=seed, n=side * side, nrow=side), scale),))
    shown = dict(generator=generator, seed=seed, side=side, image_size=G.image_size, scale=scale)
    return picture, generator_text(generator, session), shown


def latent_point(seed: int, sample: int, side: int, latent_dim: int) -> torch.Tensor:
    """Sample #`sample` of the grid of `seed` (side² samples): the same z as in gan_sample."""
    n = side * side
    if not 0 <= int(sample) < n:
        raise ValueError(f"sample # must be from 0 to {n - 1} (a {side}×{side} grid), got {sample}")
    return latent_noise(int(seed), n, latent_dim)[int(sample)]


def gan_interpolate(generator: str, start_seed: int = 1, start_sample: int = 0, end_seed: int = 2,
                    end_sample: int = 0, grid_side: int = 8, mode: str = "slerp", num_frames: int = 16,
                    request: gr.Request = None):
    """Walk from one latent point to another: sample #i of the grid of a seed (grid_side² samples,
    as gan_sample draws them). Returns (strip PNG path, GIF path, [strip, GIF]); the GIF has
    num_frames frames of (S + 4)·k pixels a side for S×S samples, k = whole_scale(S + 4, GIF_SIDE)."""
    session = session_for(request)
    with user_errors():
        side, frames = checked_side(grid_side), number(num_frames, "frames", int)
        if not 2 <= frames <= MAX_FRAMES:
            raise ValueError(f"a walk has 2 to {MAX_FRAMES} frames (both ends included), got {num_frames}")
        G, _ = GENERATORS.load(generator, session)
        z0 = latent_point(start_seed, start_sample, side, G.latent_dim)
        z1 = latent_point(end_seed, end_sample, side, G.latent_dim)
        ends = (int(start_seed), int(start_sample), int(end_seed), int(end_sample))
        key = ("walk", file_key(GENERATORS.path(generator, session)), ends, side, mode, frames)

        def draw() -> tuple[bytes, bytes]:
            samples = walk(G, z0, z1, frames, mode)[:, 0]  # (T, C, S, S)
            strip = png_of(make_grid(samples, nrow=min(frames, 16), **SAMPLE_GRID_STYLE),
                           display_scale(G.image_size))  # rows of 16 frames
            singles = [make_grid(sample[None], **SAMPLE_GRID_STYLE) for sample in samples]  # all one size
            scale = whole_scale(singles[0].shape[0], GIF_SIDE)
            return strip, gif_bytes(torch.stack([enlarge(frame, scale) for frame in singles]), fps=12)

        strip, gif = page_files(session, f"walk-{mode}", (".png", ".gif"), key, draw)
    return strip, gif, [strip, gif]


def gan_upload(file: str | None, request: gr.Request = None):
    """Keep an uploaded generator (.safetensors) for this page, check it, and select it."""
    if file is None:
        raise gr.Error(say("Choose a generator checkpoint (.safetensors), e.g. the GAN tab's download."))
    session = session_for(request)
    with user_errors():
        key = GENERATORS.keep_upload(session, file)
    return gr.update(choices=GENERATORS.choices(session), value=key)


PICK_OUTPUTS = Outputs("start_seed", "start_sample", "end_seed", "end_sample", "picking", "hint")
WALK_OUTPUTS = Outputs("strip", "walk_gif", "walk_files")


def pick_sample(shown: dict | None, picking: str, evt: gr.SelectData, request: gr.Request):
    """A click on the grid: the sample under it becomes the start (first click) or the end
    (second click) of the walk; the next pick ("end" after a start, "walk" after an end) and a hint."""
    if not shown or evt is None or evt.index is None:
        return PICK_OUTPUTS(hint="Draw a grid first, then click two samples.")
    x, y = evt.index[0], evt.index[1]
    scale = shown["scale"]
    index = grid_index(y // scale, x // scale, shown["side"] ** 2, shown["image_size"], nrow=shown["side"],
                       padding=SAMPLE_GRID_STYLE["padding"])
    if index is None:
        return PICK_OUTPUTS(hint="That was a line between samples: click inside one.")
    if picking != "end":  # "start", or "walk" after a finished pair
        return PICK_OUTPUTS(start_seed=shown["seed"], start_sample=index, picking="end",
                            hint=f"Start: sample #{index} of seed {shown['seed']}. Now click the end sample.")
    return PICK_OUTPUTS(end_seed=shown["seed"], end_sample=index, picking="walk",
                        hint=f"End: sample #{index} of seed {shown['seed']}. Walking…")


def refresh_generators(current: str | None, request: gr.Request):
    choices = GENERATORS.choices(session_for(request))
    keys = [key for _, key in choices]
    return gr.update(choices=choices, value=current if current in keys else (keys[0] if keys else None))


CLICKED_WALK_OUTPUTS = Outputs(*WALK_OUTPUTS.names, "hint")


def walk_if_end(picking: str, *walk_inputs, request: gr.Request = None):
    """After a click: walk once both ends are picked ("walk"; the next click is a new start), and
    say it is done (the hint said "Walking…")."""
    if picking != "walk":
        return CLICKED_WALK_OUTPUTS()
    strip, gif, files = gan_interpolate(*walk_inputs, request=request)
    _, start_seed, start_sample, end_seed, end_sample = walk_inputs[:5]
    return CLICKED_WALK_OUTPUTS(strip=strip, walk_gif=gif, walk_files=files,
                                hint=f"The walk from sample #{start_sample} of seed {start_seed} to #{end_sample} of seed "
                                     f"{end_seed} is below. Click a sample for a new start.")
