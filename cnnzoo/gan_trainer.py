"""DCGAN and WGAN training, written as a generator of progress events (the style of cnnzoo.trainer).

    trainer = GANTrainer(GANConfig(model="dcgan", dataset="digits", out_dir="runs/dcgan"))
    for event in trainer.run(stop=threading.Event()):
        if event.kind == "step":   print(event.step, "/", event.total_steps, event.d_loss, event.g_loss)
        if event.kind == "sample": show(event.samples)   # uint8 (H, W, C): the fixed-noise grid
        if event.kind == "end":    print(event.gif)      # the fixed-noise grid over training

DCGAN (Radford et al. 2016; the DCGAN tutorial's recipe), one step, with
BCE(p, y) = −[y ln p + (1−y) ln(1−p)]:
    D: minimise BCE(D(x), 1) + BCE(D(G(z)), 0)    i.e. maximise ln D(x) + ln(1 − D(G(z)))
    G: minimise BCE(D(G(z')), 1) = −ln D(G(z'))   the "non-saturating" generator loss, on fresh
                                                  noise z' as the DCGAN tutorial's code draws it
                                                  (g_noise="same" reuses the D step's fakes)
    Adam, lr 2e-4, β1 = 0.5 (the paper found 0.9 oscillated), β2 = 0.999.

WGAN (Arjovsky et al. 2017, Algorithm 1), one step = one generator update:
    n_critic times: critic loss L = mean f(G(z)) − mean f(x), RMSprop step, then clip every
                    critic parameter to [−c, c] (keeps f K-Lipschitz for some K)
    once:           generator loss −mean f(G(z)), RMSprop step
    −L estimates the Wasserstein-1 distance between real and generated images (times K):
    it should fall as the samples improve. RMSprop lr 5e-5 (momentum made the critic unstable
    in the paper), c = 0.01 (the paper; the WGAN tutorial's code uses 0.005). optimizer="adam"
    trains WGAN with Adam (β1, β2 as for DCGAN) to try the paper's remark for yourself.

Design, as in cnnzoo.trainer: real batches and noise are pure functions of (seed, batch index),
so a stopped run resumes exactly; stop is checked before every step and leaves a resumable
checkpoint; events are small records (the sample grid, a 64 KB uint8 picture, only in
"sample" events). Images are scaled to [−1, 1], the range of the generator's tanh.

The run folder (runs.RunDir): generator.safetensors (loads with load_checkpoint /
latent.load_generator), discriminator.safetensors, generator.state.pt (resume), metrics.csv,
record.json with a sample grid per "sample" event under images/, samples.png, progress.gif.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

import torch
import torch.nn as nn

from cnnzoo import data as datasets
from cnnzoo.checkpoints import load_checkpoint, save_checkpoint, save_training_state
from cnnzoo.compute import MEMORY_FORMAT, pick_device, seeded_generator
from cnnzoo.distributed import Ranks
from cnnzoo.files import temp_path
from cnnzoo.gan_steps import bce, clip_weights_, frozen, to_model_range
from cnnzoo.latent import generate, latent_noise
from cnnzoo.quality import find_scorer, reference_scores, score_generator, score_report
from cnnzoo.registry import create_model
from cnnzoo.runs import RunConfig, RunDir, RunEvent, ShuffledBatches, TrainerBase, open_run
from cnnzoo.viz import SAMPLE_GRID_STYLE, make_grid, save_gif

GAN_MODELS = ("dcgan", "wgan")
GAN_DATASETS = ("digits", "shapes", "mnist", "fashion-mnist")
NETWORKS = {  # registry names: (generator, discriminator or critic)
    "dcgan": ("dcgan_generator", "dcgan_discriminator"),
    "wgan": ("dcgan_generator", "wgan_critic"),
}
PAPER_LR = {"dcgan": 2e-4, "wgan": 5e-5}
PAPER_OPTIMIZER = {"dcgan": "adam", "wgan": "rmsprop"}
GAN_OPTIMIZERS = ("adam", "rmsprop")
G_NOISE = ("fresh", "same")
# Generator steps when neither steps nor epochs is given: about three minutes on a shared 2-core
# CPU at the default width 20 (measured ≈ 9.5 DCGAN and ≈ 4 WGAN steps/s; benchmarks/gan_quality.py).
# DCGAN shows all 10 digits after ~400 steps; WGAN's estimate peaks near step 250, then falls.
DEFAULT_STEPS = {"dcgan": 1500, "wgan": 800}
CPU_STEPS_PER_S = {"dcgan": 9.5, "wgan": 4.0}  # at width 20, 32×32, batch 64, as measured above
GENERATOR_FILE, DISCRIMINATOR_FILE = "generator.safetensors", "discriminator.safetensors"
FINAL_SCORE_SAMPLES = 1000


@dataclass
class GANConfig(RunConfig):
    """Everything that defines a GAN run. Stored in its checkpoints, so a run can be resumed.

    The defaults are the CPU classroom demo: a ~0.19M-parameter generator (width 20) on the
    digits upsampled to 32×32, which shows all 10 digits within a minute on 2 cores. The
    tutorials' nets are width 128 (64×64) and 256 (32×32 WGAN): GPU sizes.
    """

    RESUMABLE: ClassVar[tuple[str, ...]] = ("steps", "epochs", "out_dir", "time_limit_s", "device")
    STORED_DEFAULTS: ClassVar[dict] = {"g_noise": "same"}  # runs stored before 2026-12-02 reused D's fakes

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
    g_noise: str = "fresh"  # DCGAN's G step: "fresh" noise (the tutorial's code) or the D step's "same" fakes
    optimizer: str | None = None  # None: the paper's (DCGAN Adam, WGAN RMSprop); "adam" or "rmsprop"
    steps: int | None = None  # generator steps; None: from epochs, else DEFAULT_STEPS
    epochs: float | None = None  # passes over the training images (WGAN uses n_critic per step)
    seed: int = 0
    # The seeds' code draws 16 fixed vectors (a 4×4 grid); every preset keeps 64, the GAN tab's
    # 8×8 live grid and GIF, so every run's grid has one layout. num_samples=16 gives the seeds' grid.
    num_samples: int = 64  # fixed-noise samples in the progress grid (8×8)
    sample_every: int = 50  # steps between fixed-noise grids (a "sample" event and a GIF frame)
    gif_frames: int = 60  # at most this many GIF frames: beyond, every other one is dropped
    log_every: int = 10  # steps between "step" events
    scorer: str | None = "auto"  # classifier checkpoint for the live score; "auto": a shipped one
    score_every: int = 200  # steps between live scores
    score_samples: int = 500  # samples per live score (the final score uses 1,000)
    save_every: int = 500  # steps between checkpoints (also at the end and on stop)
    device: str = "auto"
    out_dir: str | None = None  # where the run's files go; None: nothing is written but the GIF
    time_limit_s: float | None = None  # stop by itself after this much training time

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else PAPER_LR[self.model]

    def checks(self) -> list[tuple[bool, str]]:
        def positive_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 1

        return [
            (self.model in GAN_MODELS, f"model must be one of {GAN_MODELS}"),
            (self.dataset in GAN_DATASETS, f"dataset must be one of {GAN_DATASETS}"),
            (self.image_size in (32, 64), "image size must be 32 or 64 (the DCGAN nets double from 4×4)"),
            (positive_int(self.width) and self.width <= 1024, "width must be an integer from 1 to 1024; 20 trains on a CPU, 128 is the paper's"),
            (positive_int(self.latent_dim) and self.latent_dim <= 1024, "latent dimension must be an integer from 1 to 1024; 100 is the paper's"),
            (positive_int(self.batch_size) and 2 <= self.batch_size <= 4096, "batch size must be an integer from 2 to 4096 (BatchNorm needs 2); DCGAN's paper used 128, WGAN's 64 (its m)"),
            (self.lr is None or (math.isfinite(self.lr) and 0 < self.lr <= 1), "learning rate must be in (0, 1]; 2e-4 (DCGAN) or 5e-5 (WGAN) are the papers'"),
            (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "Adam betas must be in [0, 1); DCGAN uses 0.5 and 0.999"),
            (math.isfinite(self.clip) and 0 < self.clip <= 1, "clip must be in (0, 1]; 0.01 is the WGAN paper's"),
            (positive_int(self.n_critic) and self.n_critic <= 100, "n_critic must be an integer from 1 to 100; 5 is the paper's"),
            (self.g_noise in G_NOISE, f"g_noise must be one of {G_NOISE}: the generator step's noise, fresh (the tutorial's code) or the D step's same fakes"),
            (self.optimizer in (None, *GAN_OPTIMIZERS), f"optimizer must be one of {GAN_OPTIMIZERS}, or None for the paper's (DCGAN Adam, WGAN RMSprop)"),
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
        ]  # fmt: skip

    def resumed(self, override: dict | None = None) -> "GANConfig":
        """As RunConfig.resumed; a new length in steps replaces a length in epochs, and back."""
        override = override or {}
        config = super().resumed(override)
        if override.get("steps") is not None:
            config.epochs = None
        elif override.get("epochs") is not None:
            config.steps = None
        return config


def expected_seconds(config: GANConfig, device: torch.device) -> float | None:
    """A rough CPU time for the run: the measured steps/s at width 20 and 32×32 (CPU_STEPS_PER_S),
    scaled by the work of the convolutions (∝ width², ∝ pixels, ∝ batch). None on a GPU."""
    if device.type != "cpu":
        return None
    steps = config.steps or DEFAULT_STEPS[config.model]
    work = (config.width / 20) ** 2 * (config.image_size / 32) ** 2 * (config.batch_size / 64)
    return steps * work / CPU_STEPS_PER_S[config.model]


@dataclass
class GANEvent(RunEvent):
    """One progress record. Fields that do not apply to a kind are None.

    kind: "start" | "step" (means since the last step event) | "sample" (samples: the
    fixed-noise grid, uint8 (H, W, C)) | "score" (class coverage / entropy / confidence of
    generated samples, see cnnzoo.quality; score: the whole report with the real-data ceiling
    and the noise floor) | "end" (reason: "done", "stopped", "time_limit" or "nan"; gif: the
    fixed-noise grid over training; files: the run's files by role). history: the records so far;
    run_dir: the run's folder.
    """

    NOT_RECORDED: ClassVar[tuple[str, ...]] = ("history", "files", "run_dir", "samples", "score")

    kind: str
    step: int  # generator updates so far
    epoch: float  # fractional passes over the training images
    total_steps: int | None = None
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
    device: str | None = None
    reason: str | None = None
    message: str | None = None
    checkpoint: str | None = None
    gif: str | None = None
    samples: torch.Tensor | None = field(default=None, repr=False)
    score: dict | None = None
    history: list | None = field(default=None, repr=False)
    files: dict | None = None
    run_dir: str | None = None


def resume_files(path: str | Path) -> Path:
    """The run folder of a GAN run (its folder or its generator checkpoint), or a ValueError."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    run = RunDir(folder)
    needed = [run.file(GENERATOR_FILE), run.file(DISCRIMINATOR_FILE), run.state_path(GENERATOR_FILE)]
    if not all(p.exists() for p in needed):
        raise ValueError(f"Cannot resume from {path}: it needs {', '.join(p.name for p in needed)} side by side "
                         f"(a run folder written by GANTrainer).")
    return folder


class GANTrainer(TrainerBase):
    """One DCGAN or WGAN run. `run()` is the generator of GANEvents.

    resume_from: a run folder (holding generator.safetensors) or that checkpoint's path;
    override: the settings a resume may change (GANConfig.RESUMABLE), e.g. {"steps": 3000}.
    From the "start" event on, `generator`, `discriminator`, `optimizer_g`, `optimizer_d` exist.
    """

    def __init__(self, config: GANConfig | None = None, *, resume_from: str | Path | None = None,
                 override: dict | None = None):
        self.resume_dir = resume_files(resume_from) if resume_from is not None else None
        state_path = RunDir(self.resume_dir).state_path(GENERATOR_FILE) if self.resume_dir else None
        config, state = open_run(GANConfig, config, state_path, override)
        self.ranks = Ranks.current()  # under torchrun: which rank this is; only rank 0 writes files
        self.config, self.device = config, self.ranks.device(pick_device(config.device))
        self.run_dir = RunDir(config.out_dir) if config.out_dir and self.ranks.writes else None
        self.resume_state = state
        self.step = int(state.get("step", 0))
        self.history: list[dict] = list(state.get("history", []))
        self.frames: list[torch.Tensor] = list(state["frames"]) if state.get("frames") is not None else []
        self.frame_stride: int = int(state.get("frame_stride", 1))  # keep every k-th sample grid
        self.images: list[dict] = list(state.get("images", []))  # the record's sample grids
        self.fixed_noise: torch.Tensor | None = state.get("fixed_noise")
        self.score: dict | None = state.get("score")
        self.metrics: dict = {}
        self.last_checkpoint: Path | None = None
        self.gif_path: Path | None = None
        # made by setup(), when the run starts
        self.generator = self.discriminator = self.optimizer_g = self.optimizer_d = self.scorer = None

    # --- set-up -----------------------------------------------------------------------
    def setup(self) -> None:
        """Data, both nets, their optimizers, the scorer and its references, the run's length."""
        c = self.config
        self.train_set = datasets.load_dataset(c.dataset, "train", image_size=c.image_size)
        if len(self.train_set) < c.batch_size:
            raise ValueError(f"{c.dataset} has only {len(self.train_set)} training images; use a batch size up to that")
        self.build_networks()
        self.real_images = self.train_set.images.to(self.device)  # uint8 (N, C, S, S), moved once
        self.batches = ShuffledBatches(len(self.train_set), c.batch_size, c.seed, self.device)
        self.ranks.check_batch(c.batch_size)
        self.batches_per_step = c.n_critic if c.model == "wgan" else 1  # real batches D sees per G step
        if c.steps is not None:
            self.total_steps = c.steps
        elif c.epochs is not None:
            self.total_steps = max(1, round(c.epochs * self.batches.per_epoch / self.batches_per_step))
        else:
            self.total_steps = DEFAULT_STEPS[c.model]
        self.scorer = find_scorer(c.scorer, c.dataset, self.device)
        if self.scorer is not None:  # the real-data ceiling and the noise floor, beside every score
            self.references = reference_scores(self.scorer.classifier, self.scorer.meta, c.dataset,
                                               image_size=c.image_size, n=FINAL_SCORE_SAMPLES)

    def build_networks(self) -> None:
        c, channels = self.config, self.train_set.channels
        if self.resume_dir is not None:
            self.generator, _ = load_checkpoint(self.resume_dir / GENERATOR_FILE)
            self.discriminator, _ = load_checkpoint(self.resume_dir / DISCRIMINATOR_FILE)
        else:
            torch.manual_seed(c.seed)  # the initial weights (dcgan_init's N(0, 0.02)) follow the seed
            self.generator = create_model(NETWORKS[c.model][0], **self.generator_knobs(channels))
            self.discriminator = create_model(NETWORKS[c.model][1], **self.discriminator_knobs(channels))
            self.fixed_noise = latent_noise(c.seed, c.num_samples, c.latent_dim)
        self.generator.to(self.device, memory_format=MEMORY_FORMAT).train()
        self.discriminator.to(self.device, memory_format=MEMORY_FORMAT).train()
        if (c.optimizer or PAPER_OPTIMIZER[c.model]) == "adam":
            betas = (c.beta1, c.beta2)
            self.optimizer_g = torch.optim.Adam(self.generator.parameters(), lr=c.learning_rate, betas=betas)
            self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), lr=c.learning_rate, betas=betas)
        else:
            self.optimizer_g = torch.optim.RMSprop(self.generator.parameters(), lr=c.learning_rate)
            self.optimizer_d = torch.optim.RMSprop(self.discriminator.parameters(), lr=c.learning_rate)
        if self.resume_state:
            self.optimizer_g.load_state_dict(self.resume_state["optimizer_g"])
            self.optimizer_d.load_state_dict(self.resume_state["optimizer_d"])

    def generator_knobs(self, channels: int) -> dict:
        c = self.config
        return dict(latent_dim=c.latent_dim, out_channels=channels, image_size=c.image_size, width=c.width)

    def discriminator_knobs(self, channels: int) -> dict:
        c = self.config
        return dict(in_channels=channels, image_size=c.image_size, width=c.width)

    # --- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> Iterator[GANEvent]:
        """Train, yielding events; one named phase at a time, as in cnnzoo.trainer."""
        c, stop = self.config, stop or threading.Event()
        self.setup()
        self.started, self.train_time, self.steps_timed = time.perf_counter(), 0.0, 0
        self.sums, self.logged_steps = {}, 0
        yield self.event("start", message=self.start_message())
        if self.step == 0:
            yield self.sample_event()  # the untrained generator: the GIF's first frame
        while self.step < self.total_steps:
            # stop: cooperative, answered at once with a resumable checkpoint
            if reason := self.stop_reason(stop):
                yield from self.finish(reason)
                return
            # one step of the game: D (or the critic, n_critic times), then G
            t0 = time.perf_counter()
            losses = self.dcgan_step(self.step) if c.model == "dcgan" else self.wgan_step(self.step)
            self.add_to_meter(losses)
            self.step += 1
            if self.device.type == "cuda":
                torch.cuda.synchronize()  # honest timing: kernels run asynchronously
            self.train_time += time.perf_counter() - t0
            self.steps_timed += 1
            # log: a "step" event, or the end when a loss is no longer a number
            if self.step % c.log_every == 0 or self.step == self.total_steps:
                event = self.log_event()
                yield event
                if event.kind == "end":
                    return
            # pictures, scores and checkpoints on their own rhythms (the end makes its own)
            if self.step != self.total_steps:
                if self.step % c.sample_every == 0:
                    yield self.sample_event()
                if self.step % c.score_every == 0 and self.scorer is not None:
                    yield self.score_event(c.score_samples)
                if self.step % c.save_every == 0:
                    self.save_weights()
                    self.save_state()
                    self.write_run_files(status="running")
        yield from self.finish("done")

    # --- one step of each game ----------------------------------------------------------
    def real_batch(self, b: int) -> torch.Tensor:
        """Real batch number b (counting from the start of the run), scaled to [-1, 1]."""
        x = self.real_images[self.ranks.shard(self.batches.indices(b))]  # this rank's part of the global batch
        return to_model_range(x).contiguous(memory_format=MEMORY_FORMAT)

    def noise(self, *numbers: int) -> torch.Tensor:
        """Latent points (batch, latent_dim), a pure function of the seed and `numbers`."""
        c = self.config
        z = torch.randn(self.batches.batch_size, c.latent_dim, device=self.device,
                        generator=seeded_generator(self.device, c.seed, *numbers))
        return self.ranks.rows(z)  # under torchrun: this rank's rows of the global batch's noise

    def dcgan_step(self, step: int) -> dict:
        """One D update and one G update (the tutorial's and the paper's order). Returns tensors."""
        G, D = self.generator, self.discriminator
        fresh = self.config.g_noise == "fresh"
        with torch.no_grad() if fresh else contextlib.nullcontext():  # fresh: G's step makes its own fakes
            fake = G(self.noise(step, 0))  # (N, C, S, S) in [-1, 1]
        p_real = D(self.real_batch(step))  # (N,) probabilities that the images are real
        p_fake = D(fake.detach())  # detach: D's loss must not reach G
        d_loss = bce(p_real, 1.0) + bce(p_fake, 0.0)
        self.update(self.optimizer_d, d_loss, D)

        with frozen(D):
            if fresh:  # new noise, as the tutorial's code: G is judged on samples D has not just seen
                fake = G(self.noise(step, 1))
            p = D(fake)  # the updated D judges them; G wants them called real
            g_loss = bce(p, 1.0)
        self.update(self.optimizer_g, g_loss, G)
        return dict(d_loss=d_loss.detach(), g_loss=g_loss.detach(),
                    d_real=p_real.detach().mean(), d_fake=p_fake.detach().mean())

    def wgan_step(self, step: int) -> dict:
        """n_critic critic updates, each followed by weight clipping, then one generator update."""
        n = self.batches_per_step
        critic = [self.critic_step(self.real_batch(step * n + k), self.noise(step, k)) for k in range(n)]
        losses = {key: torch.stack([r[key] for r in critic]).mean() for key in critic[0]}
        with frozen(self.discriminator):
            g_loss = -self.discriminator(self.generator(self.noise(step, n))).mean()
        self.update(self.optimizer_g, g_loss, self.generator)
        return {**losses, "g_loss": g_loss.detach()}

    def critic_step(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        """One WGAN critic update followed by weight clipping."""
        G, D = self.generator, self.discriminator
        with torch.no_grad():
            fake = G(z)
        f_real, f_fake = D(real).mean(), D(fake).mean()
        critic_loss = f_fake - f_real  # minimising it maximises mean f(x) − mean f(G(z))
        self.update(self.optimizer_d, critic_loss, D)
        clip_weights_(D, self.config.clip)  # after EVERY critic step, as in Algorithm 1
        return dict(d_loss=critic_loss.detach(), d_real=f_real.detach(), d_fake=f_fake.detach())

    def update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, net: nn.Module) -> None:
        """One optimizer step of `net` on `loss`; under torchrun on the mean of the ranks' gradients.
        (DDP's wrapper does that during backward, but it allows one forward per backward, and each
        game step runs D twice, on separate real and fake batches as DCGAN does for BatchNorm.)"""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.ranks.average_gradients(net)
        optimizer.step()

    # --- the other phases --------------------------------------------------------------
    def add_to_meter(self, losses: dict) -> None:
        for key, value in losses.items():  # summed on the device: no synchronisation until the log
            self.sums[key] = self.sums.get(key, 0) + value
        self.logged_steps += 1

    def log_event(self) -> GANEvent:
        """The "step" event (means since the last one), or the "nan" end of a diverged run."""
        c = self.config
        keys = sorted(self.sums)  # under torchrun, the means over every rank's shard
        sums = self.ranks.sum(torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float64) for k in keys]))
        means = dict(zip(keys, (sums / (self.logged_steps * self.ranks.world_size)).tolist()))
        self.sums, self.logged_steps = {}, 0
        if not all(math.isfinite(v) for v in means.values()):
            kept = f" The last good checkpoint is {self.last_checkpoint}." if self.last_checkpoint else ""
            event = self.event("end", reason="nan", checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                               message=f"The losses became {means} at step {self.step}: training diverged; lower "
                                       f"the learning rate ({c.learning_rate:g}) and train again.{kept}")
            self.write_run_files(status="nan")
            event.files = self.files()
            return event
        self.metrics = means
        if c.model == "wgan":
            means["wasserstein"] = -means["d_loss"]
        seconds_per_step = self.train_time / self.steps_timed
        eta = seconds_per_step * (self.total_steps - self.step)
        if c.time_limit_s:
            eta = min(eta, max(0.0, c.time_limit_s - self.train_time))
        return self.event("step", **means, images_per_s=self.batches.batch_size * self.batches_per_step / seconds_per_step,
                          eta_s=eta, elapsed_s=self.elapsed(), train_s=self.train_time)

    def sample_event(self, last: bool = False) -> GANEvent:
        """The fixed-noise grid now: a GIF frame (every frame_stride-th) and a picture of the record."""
        c = self.config
        grid = make_grid(generate(self.generator, self.fixed_noise.to(self.device)), **SAMPLE_GRID_STYLE)  # (H, W, C)
        if last or (self.step // c.sample_every) % self.frame_stride == 0:
            self.frames.append(grid)
            if len(self.frames) > c.gif_frames:  # keep the GIF short: halve the frame rate
                self.frames = self.frames[::2]
                self.frame_stride *= 2
        if self.run_dir is not None:
            name = f"images/samples-step{self.step:06d}.png"
            self.run_dir.save_picture(name, grid)
            self.images.append({"kind": "samples", "step": self.step, "epoch": self.epoch(), "file": name,
                                "caption": f"step {self.step}"})
        return self.event("sample", samples=grid)

    def score_event(self, n: int) -> GANEvent:
        """How n samples of the generator score (cnnzoo.quality), beside real images and noise."""
        s = self.scorer
        result = score_generator(self.generator, s.classifier, s.meta, n=n)
        self.score = score_report(result, self.references, s.name)
        return self.event("score", classes_present=result.classes_present, entropy=result.entropy,
                          confidence=result.confidence, message=result.summary(), train_s=self.train_time,
                          elapsed_s=self.elapsed(), score=self.score)

    def finish(self, reason: str) -> Iterator[GANEvent]:
        """A last grid and score (a Stop is answered at once: it keeps the last live score instead of
        waiting for a 1,000-sample one), the checkpoints, the GIF, and the "end" event."""
        yield self.sample_event(last=True)
        if reason != "stopped" and self.scorer is not None:
            yield self.score_event(FINAL_SCORE_SAMPLES)
        path = self.save_weights()
        gif = self.write_gif()
        summary = (f"; samples: {self.score['classes_present']}/{self.score['num_classes']} classes, "
                   f"entropy {self.score['entropy']:.2f}") if self.score else ""
        event = self.event("end", reason=reason, checkpoint=str(path) if path else None, gif=str(gif) if gif else None,
                           elapsed_s=self.elapsed(), train_s=self.train_time,
                           message=f"{reason.replace('_', ' ')} at step {self.step}{summary}")
        self.save_state()  # after the end event: a resumed run's history shows where this part ended
        self.write_run_files(status=reason)
        event.files = self.files()
        yield event

    # --- helpers of the phases ---------------------------------------------------------
    def epoch(self) -> float:
        return round(self.step * self.batches_per_step / self.batches.per_epoch, 4)

    def event(self, kind: str, **fields) -> GANEvent:
        """A GANEvent at the current step; "step", "score" and "end" are kept in the history."""
        e = GANEvent(kind=kind, step=self.step, epoch=self.epoch(), total_steps=self.total_steps,
                     device=str(self.device), history=self.history, run_dir=self.config.out_dir, **fields)
        if kind in ("step", "score", "end"):
            self.history.append(e.to_dict())
        return e

    def start_message(self) -> str:
        c = self.config
        g_params = sum(p.numel() for p in self.generator.parameters())
        d_params = sum(p.numel() for p in self.discriminator.parameters())
        return (f"{c.model.upper()} on {c.dataset} ({len(self.train_set)} images, {c.image_size}×{c.image_size}): "
                f"generator {g_params / 1e6:.2f}M, {'critic' if c.model == 'wgan' else 'discriminator'} "
                f"{d_params / 1e6:.2f}M parameters; {self.total_steps} steps of {self.batches.batch_size} on {self.device}"
                + (f" × {self.ranks.world_size} ranks" if self.ranks.world_size > 1 else ""))

    # --- files -------------------------------------------------------------------------
    def generator_meta(self) -> dict:
        c, ds = self.config, self.train_set
        return {
            "model": NETWORKS[c.model][0], "knobs": self.generator_knobs(ds.channels), "gan": c.model,
            "latent_dim": c.latent_dim, "image_size": c.image_size, "channels": ds.channels,
            "output_range": [-1, 1], "dataset": c.dataset, "class_names": list(ds.class_names),
            "steps": self.step, "epoch": self.epoch(), "metrics": self.metrics, "score": self.score,
            "train_config": c.to_dict(),
        }  # fmt: skip

    def save_weights(self) -> Path | None:
        """Generator and discriminator as checkpoints; returns the generator's."""
        if self.run_dir is None:
            return None
        run, meta = self.run_dir, self.generator_meta()
        self.last_checkpoint = save_checkpoint(run.file(GENERATOR_FILE), self.generator, meta)
        save_checkpoint(run.file(DISCRIMINATOR_FILE), self.discriminator, {
            **meta, "model": NETWORKS[self.config.model][1], "knobs": self.discriminator_knobs(self.train_set.channels)})
        return self.last_checkpoint

    def save_state(self) -> None:
        """generator.state.pt: what Resume needs (both optimizers, the position, curves, GIF frames)."""
        if self.run_dir is None or self.last_checkpoint is None:
            return
        save_training_state(self.run_dir.state_path(self.last_checkpoint), {
            "config": self.config.to_dict(), "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(), "step": self.step, "history": self.history,
            "fixed_noise": self.fixed_noise.cpu(), "frames": torch.stack(self.frames) if self.frames else None,
            "frame_stride": self.frame_stride, "score": self.score, "images": self.images,
        })  # fmt: skip

    def write_gif(self, fps: float = 8.0) -> Path | None:
        """The collected fixed-noise grids as an animated GIF (progress.gif of the run, or a temp file)."""
        if not self.frames:
            return None
        path = self.run_dir.file("progress.gif") if self.run_dir else temp_path("gan-progress-", ".gif")
        self.gif_path = save_gif(torch.stack(self.frames), path, fps=fps)
        return self.gif_path

    def write_run_files(self, status: str) -> None:
        """metrics.csv, samples.png (the latest grid) and the run record."""
        if self.run_dir is None:
            return
        run = self.run_dir
        run.write_metrics(self.history, GANEvent.recorded_fields())
        if self.frames:
            run.save_picture("samples.png", self.frames[-1])
        run.write_record("gan", status, self.config.to_dict(), self.total_steps, self.history, self.images,
                         self.file_paths())

    def file_paths(self) -> dict[str, Path | None]:
        run = self.run_dir
        gif = run.file("progress.gif")
        return {"generator": self.last_checkpoint, "discriminator": run.file(DISCRIMINATOR_FILE),
                "metrics": run.file(run.METRICS), "record": run.file(run.RECORD),
                "samples": run.file("samples.png"), "gif": gif if gif.exists() else None}
