"""DCGAN and WGAN training, written as a generator of progress events (the style of cnnzoo.train).

    trainer = GANTrainer(GANConfig(model="dcgan", dataset="digits"))
    for event in trainer.run(stop=threading.Event()):
        if event.kind == "step":   print(event.step, event.d_loss, event.g_loss)
        if event.kind == "sample": show(event.samples)   # uint8 (H, W, C): the fixed-noise grid
        if event.kind == "end":    print(event.gif)      # the fixed-noise grid over training

DCGAN (Radford et al. 2016; the seed's recipe), one step, with BCE(p, y) = −[y ln p + (1−y) ln(1−p)]:
    D: minimise BCE(D(x), 1) + BCE(D(G(z)), 0)    i.e. maximise ln D(x) + ln(1 − D(G(z)))
    G: minimise BCE(D(G(z)), 1) = −ln D(G(z))     the "non-saturating" generator loss
    Adam, lr 2e-4, β1 = 0.5 (the paper found 0.9 oscillated), β2 = 0.999.

WGAN (Arjovsky et al. 2017, Algorithm 1), one step = one generator update:
    n_critic times: critic loss L = mean f(G(z)) − mean f(x), RMSprop step, then clip every
                    critic parameter to [−c, c] (keeps f K-Lipschitz for some K)
    once:           generator loss −mean f(G(z)), RMSprop step
    −L estimates the Wasserstein-1 distance between real and generated images (times K):
    it should fall as the samples improve. RMSprop lr 5e-5 (momentum made the critic unstable
    in the paper), c = 0.01 (the paper; the seed used 0.005).

Design, as in cnnzoo.train: real batches and noise are pure functions of (seed, batch index),
so a stopped run resumes exactly; stop is checked before every step and leaves a resumable
checkpoint; events are small records (the sample grid, a 64 KB uint8 picture, only in
"sample" events). Images are scaled to [−1, 1], the range of the generator's tanh.

Files under out_dir: generator.safetensors (loads with load_checkpoint / load_generator),
discriminator.safetensors, generator.state.pt (resume), samples.png, progress.gif.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn

from cnnzoo import data as datasets
from cnnzoo.checkpoints import load_checkpoint, load_training_state, save_checkpoint, save_training_state
from cnnzoo.latent import generate, latent_noise
from cnnzoo.compute import MEMORY_FORMAT, pick_device, seeded_generator
from cnnzoo.train import state_path_for
from cnnzoo.train import write_metrics_csv as write_event_csv
from cnnzoo.files import temp_path
from cnnzoo.viz import SAMPLE_GRID_STYLE, make_grid, save_gif, save_png

GAN_MODELS = ("dcgan", "wgan")
GAN_DATASETS = ("digits", "shapes", "mnist", "fashion-mnist")
NETWORKS = {  # registry names: (generator, discriminator or critic)
    "dcgan": ("dcgan_generator", "dcgan_discriminator"),
    "wgan": ("dcgan_generator", "wgan_critic"),
}
PAPER_LR = {"dcgan": 2e-4, "wgan": 5e-5}
# Generator steps when neither steps nor epochs is given: about three minutes on a shared 2-core
# CPU at the default width 20 (measured ≈ 9.5 DCGAN and ≈ 4 WGAN steps/s; benchmarks/gan_quality.py).
# DCGAN shows all 10 digits after ~400 steps; WGAN's estimate peaks near step 250, then falls.
DEFAULT_STEPS = {"dcgan": 1500, "wgan": 800}
GENERATOR_FILE, DISCRIMINATOR_FILE = "generator.safetensors", "discriminator.safetensors"


@dataclass
class GANConfig:
    """Everything that defines a GAN run. Stored in its checkpoints, so a run can be resumed.

    The defaults are the CPU classroom demo: a ~0.19M-parameter generator (width 20) on the
    digits upsampled to 32×32, which shows all 10 digits within a minute on 2 cores. The
    seed's nets are width 128 (64×64) and 256 (32×32 WGAN): GPU sizes.
    """

    model: str = "dcgan"  # "dcgan" or "wgan"
    dataset: str = "digits"
    image_size: int = 32  # 32 or 64
    width: int = 20  # channels of the last hidden generator layer (DCGAN's ngf); also D's first
    latent_dim: int = 100
    batch_size: int = 64
    lr: float | None = None  # None: the paper's, 2e-4 (DCGAN, Adam) or 5e-5 (WGAN, RMSprop)
    beta1: float = 0.5  # DCGAN's Adam
    beta2: float = 0.999
    clip: float = 0.01  # WGAN: critic weights are clipped to [-clip, clip]
    n_critic: int = 5  # WGAN: critic steps per generator step
    steps: int | None = None  # generator steps; None: from epochs, else DEFAULT_STEPS
    epochs: float | None = None  # passes over the training images (WGAN uses n_critic per step)
    seed: int = 0
    num_samples: int = 64  # fixed-noise samples in the progress grid (8×8)
    sample_every: int = 50  # steps between fixed-noise grids (a "sample" event and a GIF frame)
    gif_frames: int = 60  # at most this many GIF frames: beyond, every other one is dropped
    log_every: int = 10  # steps between "step" events
    scorer: str | None = "auto"  # classifier checkpoint for the live score; "auto": a shipped one
    score_every: int = 200  # steps between live scores
    score_samples: int = 500  # samples per live score (the final score uses 1,000)
    save_every: int = 500  # steps between checkpoints (also at the end and on stop)
    device: str = "auto"
    out_dir: str | None = None  # where checkpoints go; None: nothing is written but the GIF
    time_limit_s: float | None = None  # stop by itself after this much training time

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else PAPER_LR[self.model]

    def validate(self) -> None:
        """Raise ValueError, saying what to do, for settings that cannot work."""
        def positive_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 1

        checks = [
            (self.model in GAN_MODELS, f"model must be one of {GAN_MODELS}"),
            (self.dataset in GAN_DATASETS, f"dataset must be one of {GAN_DATASETS}"),
            (self.image_size in (32, 64), "image size must be 32 or 64 (the DCGAN nets double from 4×4)"),
            (positive_int(self.width) and self.width <= 1024, "width must be an integer from 1 to 1024; 20 trains on a CPU, 128 is the paper's"),
            (positive_int(self.latent_dim) and self.latent_dim <= 1024, "latent dimension must be an integer from 1 to 1024; 100 is the paper's"),
            (positive_int(self.batch_size) and 2 <= self.batch_size <= 4096, "batch size must be an integer from 2 to 4096 (BatchNorm needs 2); 64 is the paper's"),
            (self.lr is None or (math.isfinite(self.lr) and 0 < self.lr <= 1), "learning rate must be in (0, 1]; 2e-4 (DCGAN) or 5e-5 (WGAN) are the papers'"),
            (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "Adam betas must be in [0, 1); DCGAN uses 0.5 and 0.999"),
            (math.isfinite(self.clip) and 0 < self.clip <= 1, "clip must be in (0, 1]; 0.01 is the WGAN paper's"),
            (positive_int(self.n_critic) and self.n_critic <= 100, "n_critic must be an integer from 1 to 100; 5 is the paper's"),
            (self.steps is None or positive_int(self.steps), "steps must be a positive integer (generator updates)"),
            (self.epochs is None or (math.isfinite(self.epochs) and self.epochs > 0), "epochs must be > 0"),
            (self.steps is None or self.epochs is None, "give steps or epochs, not both"),
            (positive_int(self.num_samples) and self.num_samples <= 256, "the sample grid holds 1 to 256 samples"),
            (positive_int(self.sample_every), "sample_every must be a positive number of steps"),
            (positive_int(self.gif_frames) and self.gif_frames >= 2, "the GIF needs at least 2 frames"),
            (positive_int(self.log_every), "log_every must be a positive number of steps"),
            (positive_int(self.score_every), "score_every must be a positive number of steps"),
            (positive_int(self.score_samples) and self.score_samples >= 10, "score at least 10 samples"),
            (positive_int(self.save_every), "save_every must be a positive number of steps"),
            (self.time_limit_s is None or self.time_limit_s > 0, "time limit must be > 0 seconds"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "GANConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class GANEvent:
    """One progress record. Fields that do not apply to a kind are None.

    kind: "start" | "step" (means since the last step event) | "sample" (samples: the
    fixed-noise grid, uint8 (H, W, C)) | "score" (class coverage / entropy / confidence of
    generated samples, see cnnzoo.quality) | "end" (reason: "done", "stopped", "time_limit"
    or "nan"; gif: the fixed-noise grid over training).
    """

    kind: str
    step: int  # generator updates so far
    epoch: float  # fractional passes over the training images
    d_loss: float | None = None  # DCGAN: BCE of D; WGAN: critic loss mean f(G(z)) − mean f(x)
    g_loss: float | None = None
    wasserstein: float | None = None  # WGAN: −critic loss, the Wasserstein estimate
    d_real: float | None = None  # mean D(x) (DCGAN: a probability; WGAN: a critic score)
    d_fake: float | None = None  # mean D(G(z)) in the D step, before G's update
    images_per_s: float | None = None  # real images through D per second of training
    eta_s: float | None = None
    elapsed_s: float | None = None  # wall-clock seconds since run() started
    train_s: float | None = None  # seconds spent in training steps only (no sampling/scoring)
    classes_present: int | None = None
    entropy: float | None = None
    confidence: float | None = None
    samples: torch.Tensor | None = None
    device: str | None = None
    reason: str | None = None
    message: str | None = None
    checkpoint: str | None = None
    gif: str | None = None

    def to_dict(self) -> dict:
        """The record without the sample picture (for history, CSV and JSON)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "samples"}


def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN's weight clipping: every parameter of the critic into [−c, c], in place."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No parameter gradients for `module` inside the block (D during G's step: G's gradient
    still flows *through* D, but D's own weight gradients are not computed, saving work)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of probabilities p against a constant label (1: real, 0: fake):
    −mean[y ln p + (1 − y) ln(1 − p)], with p kept inside [ε, 1 − ε] (ε = float32's 1.2e-7; a
    saturated sigmoid gives exactly 0 or 1). Written out rather than F.binary_cross_entropy,
    which raises on NaN inputs: here a diverged run reaches the NaN guard and ends with a message."""
    eps = torch.finfo(torch.float32).eps
    p = p.float().clamp(eps, 1 - eps)
    return -(target * torch.log(p) + (1 - target) * torch.log1p(-p)).mean()


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [−1, 1], the tanh range of the generator: x/127.5 − 1."""
    return images.float().div_(127.5).sub_(1.0)


class GANTrainer:
    """One DCGAN or WGAN run. `run()` is the generator of GANEvents.

    resume_from: a run directory (holding generator.safetensors) or that checkpoint's path;
    `steps` may be raised on resume to train longer. From the "start" event on, `generator`,
    `discriminator`, `optimizer_g`, `optimizer_d` are the live objects and `num_steps` the length.
    """

    def __init__(self, config: GANConfig | None = None, resume_from: str | Path | None = None,
                 steps: int | None = None):
        self.resume_state: dict | None = None
        self.resume_dir: Path | None = None
        if resume_from is not None:
            ckpt = Path(resume_from)
            if ckpt.is_dir():
                ckpt = ckpt / GENERATOR_FILE
            needed = [ckpt, ckpt.with_name(DISCRIMINATOR_FILE), state_path_for(ckpt)]
            if not all(p.exists() for p in needed):
                raise ValueError(f"Cannot resume from {resume_from}: it needs {', '.join(p.name for p in needed)} "
                                 f"side by side (a run directory written by GANTrainer).")
            self.resume_state = load_training_state(state_path_for(ckpt))
            self.resume_dir = ckpt.parent
            stored = GANConfig.from_dict(self.resume_state["config"])
            if config is not None and config.out_dir:
                stored.out_dir = config.out_dir
            if config is not None and config.time_limit_s:
                stored.time_limit_s = config.time_limit_s
            config = stored
        config = config or GANConfig()
        if steps is not None:
            config.steps, config.epochs = steps, None
        config.validate()
        self.config = config
        self.device = pick_device(config.device)
        state = self.resume_state or {}
        self.history: list[dict] = list(state.get("history", []))
        self.frames: list[torch.Tensor] = list(state["frames"]) if state.get("frames") is not None else []
        self.frame_stride: int = int(state.get("frame_stride", 1))  # keep every k-th sample grid
        self.fixed_noise: torch.Tensor | None = state.get("fixed_noise")
        self.score: dict | None = state.get("score")
        self.generator: nn.Module | None = None
        self.discriminator: nn.Module | None = None
        self.optimizer_g = self.optimizer_d = None
        self.train_set: datasets.ImageDataset | None = None
        self.last_checkpoint: Path | None = None
        self.gif_path: Path | None = None
        self.num_steps: int | None = None  # the run's length in generator steps, known after "start"
        self._scorer = None
        self._scorer_name: str | None = None

    # --- set-up -----------------------------------------------------------------------
    def generator_knobs(self, channels: int) -> dict:
        c = self.config
        return dict(latent_dim=c.latent_dim, out_channels=channels, image_size=c.image_size, width=c.width)

    def discriminator_knobs(self, channels: int) -> dict:
        c = self.config
        return dict(in_channels=channels, image_size=c.image_size, width=c.width)

    def _build(self) -> None:
        from cnnzoo.registry import create_model

        c = self.config
        self.train_set = datasets.load_dataset(c.dataset, "train", image_size=c.image_size)
        if len(self.train_set) < c.batch_size:
            raise ValueError(f"{c.dataset} has only {len(self.train_set)} training images; use a batch size up to that")
        channels = self.train_set.channels
        g_name, d_name = NETWORKS[c.model]
        if self.resume_state is not None:
            self.generator, _ = load_checkpoint(self.resume_dir / GENERATOR_FILE)
            self.discriminator, _ = load_checkpoint(self.resume_dir / DISCRIMINATOR_FILE)
        else:
            torch.manual_seed(c.seed)  # the initial weights (dcgan_init's N(0, 0.02)) follow the seed
            self.generator = create_model(g_name, **self.generator_knobs(channels))
            self.discriminator = create_model(d_name, **self.discriminator_knobs(channels))
            self.fixed_noise = latent_noise(c.seed, c.num_samples, c.latent_dim)
        # channels_last: measured ~20% faster for these nets on CPU (and cuDNN prefers it)
        fmt = MEMORY_FORMAT
        self.generator.to(self.device, memory_format=fmt).train()
        self.discriminator.to(self.device, memory_format=fmt).train()
        if c.model == "dcgan":
            betas = (c.beta1, c.beta2)
            self.optimizer_g = torch.optim.Adam(self.generator.parameters(), lr=c.learning_rate, betas=betas)
            self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.learning_rate, betas=betas)
        else:
            self.optimizer_g = torch.optim.RMSprop(self.generator.parameters(), lr=c.learning_rate)
            self.optimizer_d = torch.optim.RMSprop(self.discriminator.parameters(), lr=c.learning_rate)
        if self.resume_state is not None:
            self.optimizer_g.load_state_dict(self.resume_state["optimizer_g"])
            self.optimizer_d.load_state_dict(self.resume_state["optimizer_d"])

    def batches_per_step(self) -> int:
        """Real batches the discriminator sees per generator step: 1 (DCGAN) or n_critic (WGAN)."""
        return self.config.n_critic if self.config.model == "wgan" else 1

    def total_steps(self, batches_per_epoch: int) -> int:
        c = self.config
        if c.steps is not None:
            return c.steps
        if c.epochs is not None:
            return max(1, round(c.epochs * batches_per_epoch / self.batches_per_step()))
        return DEFAULT_STEPS[c.model]

    def scorer(self):
        """(classifier, meta) used for the live score, or None (loaded once, lazily)."""
        from cnnzoo.quality import default_scorer_path, load_classifier

        c = self.config
        if self._scorer is None and c.scorer is not None:
            path = default_scorer_path(c.dataset) if c.scorer == "auto" else Path(c.scorer)
            self._scorer = load_classifier(path, self.device) if path is not None else False
            self._scorer_name = (path.name if c.scorer == "auto" else c.scorer) if path is not None else None
        return self._scorer or None

    # --- checkpoints ------------------------------------------------------------------
    def generator_meta(self, step: int, epoch: float, metrics: dict) -> dict:
        c, ds = self.config, self.train_set
        return {
            "model": NETWORKS[c.model][0],
            "knobs": self.generator_knobs(ds.channels),
            "gan": c.model,
            "latent_dim": c.latent_dim,
            "image_size": c.image_size,
            "channels": ds.channels,
            "output_range": [-1, 1],
            "dataset": c.dataset,
            "class_names": list(ds.class_names),
            "steps": step,
            "epoch": epoch,
            "metrics": metrics,
            "score": self.score,
            "train_config": c.to_dict(),
        }

    def save(self, step: int, epoch: float, metrics: dict) -> Path | None:
        """generator + discriminator weights and the resume state under out_dir (atomic writes)."""
        c = self.config
        if not c.out_dir:
            return None
        out = Path(c.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = self.generator_meta(step, epoch, metrics)
        path = save_checkpoint(out / GENERATOR_FILE, self.generator, meta)
        save_checkpoint(out / DISCRIMINATOR_FILE, self.discriminator, {
            **meta, "model": NETWORKS[c.model][1], "knobs": self.discriminator_knobs(self.train_set.channels)})
        save_training_state(state_path_for(path), {
            "config": c.to_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "step": step,
            "history": self.history,
            "fixed_noise": self.fixed_noise.cpu(),
            "frames": torch.stack(self.frames) if self.frames else None,
            "frame_stride": self.frame_stride,
            "score": self.score,
        })
        self.last_checkpoint = path
        return path

    def write_gif(self, fps: float = 8.0) -> Path | None:
        """The collected fixed-noise grids as an animated GIF (out_dir/progress.gif or a temp file)."""
        if not self.frames:
            return None
        path = Path(self.config.out_dir) / "progress.gif" if self.config.out_dir else temp_path("gan-progress-", ".gif")
        self.gif_path = save_gif(torch.stack(self.frames), path, fps=fps)
        return self.gif_path

    # --- one step of each game --------------------------------------------------------
    def dcgan_step(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        """One D update and one G update (the seed's and the paper's order). Returns tensors."""
        G, D = self.generator, self.discriminator
        fake = G(z)  # (N, C, S, S) in [-1, 1]
        p_real = D(real)  # (N,) probabilities that the images are real
        p_fake = D(fake.detach())  # detach: D's loss must not reach G
        d_loss = bce(p_real, 1.0) + bce(p_fake, 0.0)
        self.optimizer_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer_d.step()

        with frozen(D):
            p = D(fake)  # the updated D judges the same fakes; G wants them called real
            g_loss = bce(p, 1.0)
        self.optimizer_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer_g.step()
        return dict(d_loss=d_loss.detach(), g_loss=g_loss.detach(),
                    d_real=p_real.detach().mean(), d_fake=p_fake.detach().mean())

    def critic_step(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        """One WGAN critic update followed by weight clipping."""
        G, D = self.generator, self.discriminator
        with torch.no_grad():
            fake = G(z)
        f_real, f_fake = D(real).mean(), D(fake).mean()
        critic_loss = f_fake - f_real  # minimising it maximises mean f(x) − mean f(G(z))
        self.optimizer_d.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.optimizer_d.step()
        clip_weights_(D, self.config.clip)  # after EVERY critic step, as in Algorithm 1
        return dict(d_loss=critic_loss.detach(), d_real=f_real.detach(), d_fake=f_fake.detach())

    def generator_step_wgan(self, z: torch.Tensor) -> torch.Tensor:
        with frozen(self.discriminator):
            g_loss = -self.discriminator(self.generator(z)).mean()
        self.optimizer_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer_g.step()
        return g_loss.detach()

    # --- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> Iterator[GANEvent]:
        c = self.config
        stop = stop or threading.Event()
        self._build()
        device, cpu = self.device, torch.device("cpu")
        fmt = MEMORY_FORMAT
        train = self.train_set
        images = train.images.to(device)  # uint8 (N, C, S, S), moved once
        n, batch_size = len(train), c.batch_size
        batches_per_epoch = max(1, n // batch_size)  # drop the ragged last batch
        per_step = self.batches_per_step()
        total_steps = self.num_steps = self.total_steps(batches_per_epoch)
        step = int(self.resume_state["step"]) if self.resume_state else 0
        fixed_noise = self.fixed_noise.to(device)

        def epoch_of(s: int) -> float:
            return round(s * per_step / batches_per_epoch, 4)

        def event(kind: str, **kw) -> GANEvent:
            e = GANEvent(kind=kind, step=step, epoch=epoch_of(step), device=str(device), **kw)
            if kind in ("step", "score", "end"):
                self.history.append(e.to_dict())
            return e

        def sample_event(last: bool = False) -> GANEvent:
            grid = make_grid(generate(self.generator, fixed_noise), **SAMPLE_GRID_STYLE)  # uint8 (H, W, C)
            if last or (step // c.sample_every) % self.frame_stride == 0:
                self.frames.append(grid)
                if len(self.frames) > c.gif_frames:  # keep the GIF short: halve the frame rate
                    self.frames = self.frames[::2]
                    self.frame_stride *= 2
            return event("sample", samples=grid)

        def score_event(num: int, references: bool = False) -> GANEvent | None:
            scorer = self.scorer()
            if scorer is None:
                return None
            from cnnzoo.quality import score_generator, score_with_references

            if references:  # the real-data ceiling and the noise floor, kept beside the score
                scores = score_with_references(self.generator, *scorer, c.dataset, n=num)
                result = scores.pop("generator")
            else:
                result, scores = score_generator(self.generator, *scorer, n=num), {}
            self.score = {**result.to_dict(), "scorer": self._scorer_name}
            self.score.update({name: {k: v for k, v in ref.to_dict().items() if k != "histogram"}
                               for name, ref in scores.items()})
            return event("score", classes_present=result.classes_present, entropy=result.entropy,
                         confidence=result.confidence, message=result.summary(), train_s=train_time,
                         elapsed_s=time.perf_counter() - started)

        g_params = sum(p.numel() for p in self.generator.parameters())
        d_params = sum(p.numel() for p in self.discriminator.parameters())
        yield event("start", message=(
            f"{c.model.upper()} on {c.dataset} ({n} images, {c.image_size}×{c.image_size}): generator "
            f"{g_params / 1e6:.2f}M, {'critic' if c.model == 'wgan' else 'discriminator'} {d_params / 1e6:.2f}M "
            f"parameters; {total_steps} steps of {batch_size} on {device}"))
        if step == 0:
            yield sample_event()  # the untrained generator: the GIF's first frame

        sums: dict[str, torch.Tensor] = {}
        logged_steps = 0
        train_time, steps_timed = 0.0, 0
        metrics: dict = {}
        started = time.perf_counter()
        perm, perm_epoch = None, -1
        reason = "done"

        def real_batch(b: int) -> torch.Tensor:
            """Real batch number b (counting from the start of the run), scaled to [-1, 1]."""
            nonlocal perm, perm_epoch
            epoch, s = divmod(b, batches_per_epoch)
            if epoch != perm_epoch:
                perm = torch.randperm(n, generator=seeded_generator(cpu, c.seed, epoch)).to(device)
                perm_epoch = epoch
            x = images[perm[s * batch_size:(s + 1) * batch_size]]
            return to_model_range(x).contiguous(memory_format=fmt)

        def noise(*numbers: int) -> torch.Tensor:
            return torch.randn(batch_size, c.latent_dim, device=device,
                               generator=seeded_generator(device, c.seed, *numbers))

        while step < total_steps:
            if stop.is_set() or (c.time_limit_s and train_time >= c.time_limit_s):
                reason = "stopped" if stop.is_set() else "time_limit"
                break
            t0 = time.perf_counter()
            if c.model == "dcgan":
                out = self.dcgan_step(real_batch(step), noise(step, 0))
            else:
                critic = [self.critic_step(real_batch(step * per_step + k), noise(step, k))
                          for k in range(per_step)]
                out = {key: torch.stack([r[key] for r in critic]).mean() for key in critic[0]}
                out["g_loss"] = self.generator_step_wgan(noise(step, per_step))
            for key, value in out.items():
                sums[key] = sums.get(key, 0) + value
            logged_steps += 1
            step += 1
            if device.type == "cuda":
                torch.cuda.synchronize()  # honest timing: kernels run asynchronously
            train_time += time.perf_counter() - t0
            steps_timed += 1

            if step % c.log_every == 0 or step == total_steps:
                means = {key: (value / logged_steps).item() for key, value in sums.items()}
                sums, logged_steps = {}, 0
                if not all(math.isfinite(v) for v in means.values()):
                    kept = f" The last good checkpoint is {self.last_checkpoint}." if self.last_checkpoint else ""
                    yield event("end", reason="nan", checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                                message=f"The losses became {means} at step {step}: training diverged; lower "
                                        f"the learning rate ({c.learning_rate:g}) and train again.{kept}")
                    return
                metrics = means
                if c.model == "wgan":
                    means["wasserstein"] = -means["d_loss"]
                seconds_per_step = train_time / steps_timed
                eta = seconds_per_step * (total_steps - step)
                if c.time_limit_s:
                    eta = min(eta, max(0.0, c.time_limit_s - train_time))
                yield event("step", **means, images_per_s=batch_size * per_step / seconds_per_step, eta_s=eta,
                            elapsed_s=time.perf_counter() - started, train_s=train_time)
            if step % c.sample_every == 0 and step != total_steps:
                yield sample_event()
            if step % c.score_every == 0 and step != total_steps:
                scored = score_event(c.score_samples)
                if scored is not None:
                    yield scored
            if step % c.save_every == 0 and step != total_steps:
                self.save(step, epoch_of(step), metrics)

        # The end: a last grid and score, checkpoints, the GIF. A Stop is answered at once: the
        # checkpoint keeps the last live score instead of waiting for a 1,000-sample one.
        yield sample_event(last=True)
        if reason != "stopped":
            scored = score_event(1000, references=True)
            if scored is not None:
                yield scored
        path = self.save(step, epoch_of(step), metrics)
        if c.out_dir:
            save_png(self.frames[-1], Path(c.out_dir) / "samples.png")
        gif = self.write_gif()
        summary = (f"; samples: {self.score['classes_present']}/{self.score['num_classes']} classes, "
                   f"entropy {self.score['entropy']:.2f}") if self.score else ""
        yield event("end", reason=reason, checkpoint=str(path) if path else None, gif=str(gif) if gif else None,
                    elapsed_s=time.perf_counter() - started, train_s=train_time,
                    message=f"{reason.replace('_', ' ')} at step {step}{summary}")


def write_metrics_csv(history: list[dict], path: str | Path) -> Path:
    """The run's events as a CSV (one row per step/score/end event)."""
    fields = [f.name for f in dataclasses.fields(GANEvent) if f.name != "samples"]
    return write_event_csv(history, path, fields)
