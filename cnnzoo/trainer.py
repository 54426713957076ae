"""The classifier training loop, written as a generator of progress events.

    trainer = Trainer(TrainConfig(model="resnet20", dataset="shapes", epochs=5, out_dir="runs/r20"))
    for event in trainer.run(stop=threading.Event()):
        print(event.kind, event.step, "/", event.total_steps, event.train_loss, event.test_acc)
    Trainer(resume_from="runs/r20", override={"epochs": 10})   # continue it, longer

The UI turns events into plot rows and a status line, the CLI into a progress bar, the tests
assert on them; every event carries the history so far and the run's length, so no consumer
reaches into the trainer. Design choices, and why:

- Data are resident tensors (cnnzoo.data); augmentation runs on whole batches on the training
  device, so the loop is close to a bare forward/backward/step (benchmarks/train_loop.py).
- Every batch is a pure function of (seed, step) (runs.ShuffledBatches; the augmentation of
  batch s of epoch e draws from a generator seeded by (seed, e, s)), and the learning rate a
  pure function of the step (`lr_factor`, formulas rather than stacked scheduler objects).
  Resuming mid-epoch therefore continues *exactly* where a run stopped.
- Stop is cooperative: checked before every step; the loop then saves a consistent
  checkpoint (weights + optimizer + position + curves) and ends with a "stopped" event.
- Every file of the run goes through one runs.RunDir: checkpoints, resume state, metrics.csv,
  the run record and the CAM timeline of a probe test image (config.cam_probe).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo import data as datasets
from cnnzoo.cam import CAMTimeline
from cnnzoo.checkpoints import load_checkpoint, save_checkpoint, save_training_state
from cnnzoo.compute import MEMORY_FORMAT, pick_device, predict_logits, seeded_generator
from cnnzoo.distributed import Ranks
from cnnzoo.precision import PRECISIONS, choose_precision, training_autocast
from cnnzoo.registry import get_entry, model_knobs, seeded_model
from cnnzoo.runs import RunConfig, RunDir, RunEvent, ShuffledBatches, TrainerBase, open_run

OPTIMIZERS = ("sgd", "adam", "rmsprop")
SCHEDULES = ("constant", "multistep", "cosine", "onecycle")
CAM_FRAME_SIZE = 128  # pixels a side of each CAM timeline frame: its caption readable on a projector


@dataclass
class TrainConfig(RunConfig):
    """Everything that defines a run. Stored inside checkpoints, so a run can be resumed."""

    RESUMABLE: ClassVar[tuple[str, ...]] = ("epochs", "out_dir", "time_limit_s", "device", "sync_batchnorm")
    STORED_DEFAULTS: ClassVar[dict] = {"precision": "fp32"}  # runs stored before 2026-12-02 trained in fp32

    model: str = "simple_cnn"
    knobs: dict = field(default_factory=dict)
    dataset: str = "digits"
    image_size: int | None = None  # None: the dataset's own size
    dataset_path: str | None = None  # for dataset="folder"
    epochs: float = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    gamma: float = 0.2  # multistep: lr *= gamma at each milestone
    # multistep milestones as fractions of the run: the WRN tutorial's code drops the lr at
    # epochs 60, 120, 160 of 200; He et al.'s CIFAR ResNets at 50% and 75%.
    milestones: tuple = (0.3, 0.6, 0.8)
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = True
    # "dataset": the dataset's own mean/std; "none": [0, 1] (ToTensor() alone); "seeds-cifar": the
    # seeds' CIFAR code's mean/std (cnnzoo.data.NORMALISATIONS). Checkpoints record what was used.
    normalisation: str = "dataset"
    # The training step's number format: "auto" measures on this machine (cnnzoo.precision: bf16
    # where the CPU computes it natively and it is faster, mixed precision on CUDA), or "fp32", "bf16".
    precision: str = "auto"
    seed: int = 0
    train_subset: int | None = None  # train on only the first N (shuffled) images
    val_fraction: float = 0.0  # held out of train; picks the "best" checkpoint
    evals_per_epoch: int = 2  # test-set evaluations per epoch (curves)
    eval_subset: int = 1000  # mid-epoch evaluations use at most this many test images
    logs_per_epoch: int = 20  # "step" events per epoch
    cam_probe: int | None = None  # record the CAM of this test image at every epoch (a timeline)
    device: str = "auto"
    sync_batchnorm: bool = False  # under torchrun: BatchNorm statistics over all ranks' shards (CUDA only)
    out_dir: str | None = None  # where the run's files go; None: nothing is written
    time_limit_s: float | None = None  # stop by itself after this much training time

    def checks(self) -> list[tuple[bool, str]]:
        get_entry(self.model)  # unknown model -> ValueError listing valid names
        bad_knobs = set(self.knobs) - set(model_knobs(self.model)) - {"num_classes", "in_channels"}
        return [
            (get_entry(self.model).kind == "classifier", f"{self.model} is not a classifier; pick one of the classifier models."),
            (not bad_knobs, f"{self.model} has no knob(s) {sorted(bad_knobs)}; it has {list(model_knobs(self.model))}."),
            (self.epochs > 0, "epochs must be > 0"),
            (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 8192, "batch size must be an integer from 1 to 8192"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (math.isfinite(self.lr) and 0 < self.lr <= 10, "learning rate must be in (0, 10]; 0.1 for SGD or 1e-3 for Adam are good starts"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (not self.nesterov or (self.optimizer == "sgd" and self.momentum > 0), "Nesterov needs SGD with momentum > 0"),
            (0 <= self.weight_decay < 1, "weight decay must be in [0, 1); 5e-4 is the papers' value"),
            (0 < self.gamma <= 1, "gamma must be in (0, 1]"),
            (all(0 < m < 1 for m in self.milestones), "milestones are fractions of the run, each in (0, 1)"),
            (0 <= self.warmup_epochs < self.epochs, "warm-up must be shorter than the run"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.normalisation in datasets.NORMALISATIONS, f"normalisation must be one of {datasets.NORMALISATIONS}"),
            (self.normalisation != "seeds-cifar" or datasets.dataset_info(self.dataset)["channels"] == 3,
             f"the seeds' CIFAR mean/std is for colour images, not {self.dataset}: use normalisation 'dataset' or 'none'"),
            (0 <= self.val_fraction < 0.5, "validation fraction must be in [0, 0.5)"),
            (self.train_subset is None or self.train_subset >= 1, "training subset must be at least 1 image"),
            (self.evals_per_epoch >= 1 and self.logs_per_epoch >= 1, "evals and logs per epoch must be >= 1"),
            (self.cam_probe is None or self.cam_probe >= 0, "the CAM probe is a test image number, 0 or more"),
            (self.time_limit_s is None or self.time_limit_s > 0, "time limit must be > 0 seconds"),
        ]  # fmt: skip


@dataclass
class TrainEvent(RunEvent):
    """One progress record. Fields that do not apply to a kind are None.

    kind: "start" | "step" (train loss/acc since the last step event) | "eval" (test and
    validation metrics) | "end" (reason: "done", "stopped", "time_limit" or "nan"; files: the
    run's files that exist, by role). history: the run's records so far (this one included,
    earlier parts of a resumed run too); read it, do not change it. run_dir: the run's folder.
    """

    kind: str
    step: int  # optimizer steps taken so far
    epoch: float  # fractional epochs done, e.g. 2.25
    total_steps: int | None = None
    lr: float | None = None
    train_loss: float | None = None
    train_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None
    val_loss: float | None = None
    val_acc: float | None = None
    images_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    device: str | None = None
    reason: str | None = None
    message: str | None = None
    checkpoint: str | None = None
    history: list | None = field(default=None, repr=False)
    files: dict | None = None
    run_dir: str | None = None


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int = 0, gamma: float = 0.2,
              milestones=(0.3, 0.6, 0.8)) -> float:
    """Multiplier of the base learning rate at a given optimizer step.

    constant:  1
    multistep: gamma ** (milestones passed); milestones are fractions of the run
    cosine:    (1 + cos(pi * t)) / 2, t = progress after warm-up in [0, 1]
    onecycle:  linear rise from 1/25 to 1 over the first 30% (or the warm-up), then cosine to ~0
    Any schedule can start with a linear warm-up of `warmup_steps`.
    """
    if schedule == "onecycle":
        warmup_steps = warmup_steps or int(0.3 * total_steps)
        if step < warmup_steps:
            return 1 / 25 + (1 - 1 / 25) * step / warmup_steps
    elif step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if schedule == "constant":
        return 1.0
    if schedule == "multistep":
        passed = sum(step >= round(f * total_steps) for f in milestones)
        return gamma**passed
    if schedule in ("cosine", "onecycle"):
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    # Weight decay as in the papers: L2 added to the gradient (coupled), for every optimizer.
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)


def evaluate(model: nn.Module, ds: datasets.ImageDataset, limit: int | None = None,
             ranks: Ranks = Ranks()) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in [0, 1]) on the first `limit` images of ds; under torchrun
    each rank computes its part and the sums are all-reduced: the numbers are the whole set's."""
    n = len(ds) if limit is None else min(limit, len(ds))
    part = ranks.part(n)
    labels = ds.labels[part]
    sums = torch.zeros(2, dtype=torch.float64)  # (summed cross-entropy, correct)
    if len(labels):
        logits = predict_logits(model, ds.images[part], ds.mean, ds.std)
        sums += torch.stack([F.cross_entropy(logits, labels, reduction="sum").double(),
                             (logits.argmax(1) == labels).sum().double()])
    loss_sum, correct = ranks.sum(sums).tolist()
    return loss_sum / n, correct / n


def final_errors(trainer: "Trainer") -> dict[str, float]:
    """{"train": error, "test": error} of a trained model in eval mode on its whole training and test
    sets, without augmentation: the numbers of the ResNet paper's degradation argument."""
    return {"train": 1 - evaluate(trainer.model, trainer.train_set)[1],
            "test": 1 - evaluate(trainer.model, trainer.test_set)[1]}


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts; row = true class, column = predicted class."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def resume_files(path: str | Path) -> tuple[Path, Path]:
    """(checkpoint, resume state) of a run folder or of its last.safetensors, or a ValueError."""
    checkpoint = Path(path)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "last.safetensors"
    state = RunDir(checkpoint.parent).state_path(checkpoint)
    if not checkpoint.exists() or not state.exists():
        raise ValueError(f"Cannot resume from {path}: it needs a checkpoint and its {state.name} training "
                         f"state beside it (a run folder written by the trainer).")
    return checkpoint, state


class Trainer(TrainerBase):
    """One classifier training run. `run()` is the generator of TrainEvents.

    resume_from: a run folder (holding last.safetensors and last.state.pt) or that checkpoint;
    override: the settings a resume may change (TrainConfig.RESUMABLE; the run's files stay in
    its folder unless out_dir says otherwise). train_set / test_set: ImageDatasets to use
    instead of loading config.dataset (benchmarks, experiments on tensors of your own).
    """

    def __init__(self, config: TrainConfig | None = None, *, resume_from: str | Path | None = None,
                 override: dict | None = None, train_set=None, test_set=None):
        self.resume_checkpoint, state_path = resume_files(resume_from) if resume_from is not None else (None, None)
        config, state = open_run(TrainConfig, config, state_path, override)
        self.ranks = Ranks.current()  # under torchrun: which rank this is; only rank 0 writes files
        self.config, self.device = config, self.ranks.device(pick_device(config.device))
        self.run_dir = RunDir(config.out_dir) if config.out_dir and self.ranks.writes else None
        self.history: list[dict] = list(state.get("history", []))
        self.step = int(state.get("step", 0))
        self.best_metric = state.get("best_metric")
        self.resume_state = state
        self.given_sets = (train_set, test_set)
        self.last_checkpoint: Path | None = None
        self.metrics: dict = {}
        # made by setup(), when the run starts
        self.train_set = self.val_set = self.test_set = self.model = self.optimizer = self.timeline = None

    # --- set-up -----------------------------------------------------------------------
    def setup(self) -> None:
        """Data, model, optimizer, the run's length and rhythm; the resumed position."""
        c = self.config
        self.load_data()
        self.model, self.trained = self.ranks.wrap(self.build_model(), c.sync_batchnorm)  # trained: DDP's wrapper
        self.optimizer = make_optimizer(c, self.model.parameters())
        if self.resume_state:
            self.optimizer.load_state_dict(self.resume_state["optimizer"])
        self.images = self.train_set.images.to(self.device)  # uint8 (N, C, H, W), moved once
        self.labels = self.train_set.labels.to(self.device)
        self.batches = ShuffledBatches(len(self.train_set), c.batch_size, c.seed, self.device)
        self.ranks.check_batch(self.batches.batch_size)
        if self.resume_state.get("precision"):  # a resumed run keeps the format it started in
            self.precision, self.precision_why = self.resume_state["precision"], "as the run started"
        else:
            self.precision, self.precision_why = choose_precision(c.precision, self.model, *self.batch(0), self.device)
            fp32_somewhere = self.ranks.largest(self.precision == "fp32")  # every rank asks: a collective
            if fp32_somewhere and self.precision == "bf16":  # all ranks train in one format
                self.precision, self.precision_why = "fp32", "another rank measured fp32 faster"
        per_epoch = self.batches.per_epoch
        self.total_steps = max(1, round(c.epochs * per_epoch))
        self.warmup_steps = round(c.warmup_epochs * per_epoch)
        self.log_every = max(1, per_epoch // c.logs_per_epoch)
        self.eval_every = max(1, per_epoch // c.evals_per_epoch)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda" and not torch.cuda.is_bf16_supported())
        self.timeline = self.make_timeline()

    def load_data(self) -> None:
        c = self.config
        kw = dict(image_size=c.image_size, path=c.dataset_path)
        train, self.test_set = self.given_sets
        if train is None:
            train = datasets.load_dataset(c.dataset, "train", **kw)
        if self.test_set is None:
            self.test_set = datasets.load_dataset(c.dataset, "test", **kw)
        train, self.test_set = (datasets.with_normalisation(ds, c.normalisation) for ds in (train, self.test_set))
        if c.train_subset is not None and c.train_subset < len(train):
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(c.seed))
            train = train.subset(order[: c.train_subset])
        if c.val_fraction > 0:
            train, self.val_set = datasets.split_validation(train, c.val_fraction, seed=c.seed)
        if len(train) < 2:
            raise ValueError("The training set needs at least 2 images; raise the training subset size.")
        self.train_set = train

    def model_knobs(self) -> dict:
        return {**self.config.knobs, "num_classes": self.train_set.num_classes, "in_channels": self.train_set.channels}

    def build_model(self) -> nn.Module:
        if self.resume_checkpoint is not None:
            model, _ = load_checkpoint(self.resume_checkpoint)
        else:
            model = seeded_model(self.config.model, self.config.seed, **self.model_knobs())
        return model.to(self.device, memory_format=MEMORY_FORMAT)

    def make_timeline(self) -> CAMTimeline | None:
        """The CAM timeline of test image #cam_probe (wrapped around), continued on resume."""
        probe = self.config.cam_probe
        if probe is None:
            return None
        image = self.test_set.images[probe % len(self.test_set)]
        if self.resume_state.get("timeline"):
            return CAMTimeline.from_state(image, self.resume_state["timeline"])
        return CAMTimeline(image)

    # --- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> Iterator[TrainEvent]:
        """Train, yielding events; in the style of nanoGPT's train.py, one named phase at a time."""
        stop = stop or threading.Event()
        self.setup()
        self.started, self.train_time, self.steps_timed = time.perf_counter(), 0.0, 0
        self.reset_meter()
        self.capture_cam_frame(at_start=True)
        yield self.event("start", message=self.start_message())
        self.model.train()
        while self.step < self.total_steps:
            # stop: cooperative, and it leaves a resumable checkpoint
            if reason := self.stop_reason(stop):
                yield self.finish(reason)
                return
            t0 = time.perf_counter()
            # take a batch and set the learning rate: both pure functions of the step
            x, y = self.batch(self.step)
            lr = self.set_learning_rate(self.step)
            # forward, backward, update
            self.train_step(x, y)
            self.step += 1
            self.train_time += time.perf_counter() - t0
            self.steps_timed += 1
            # log: a "step" event, or the end when the loss is no longer a number
            if self.step % self.log_every == 0 or self.at_epoch_end():
                event = self.log_event(lr)
                yield event
                if event.kind == "end":
                    return
            # evaluate on the test (and validation) set; at an epoch's end, save
            if self.step % self.eval_every == 0 or self.at_epoch_end():
                yield self.eval_event()
                if self.at_epoch_end():
                    self.end_epoch()
        yield self.finish("done")

    # --- the phases -------------------------------------------------------------------
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised, augmented images (B, C, H, W) and labels (B,) of batch `step`."""
        c, train = self.config, self.train_set
        idx = self.ranks.shard(self.batches.indices(step))  # this rank's part of the global batch
        x = self.images[idx]
        if c.augment:
            epoch, s = self.batches.position(step)
            x = datasets.augment_batch(x, pad=train.augment_pad, flip=train.flip,
                                       generator=seeded_generator(self.device, c.seed, epoch, s))
        return datasets.normalize(x, train.mean, train.std).contiguous(memory_format=MEMORY_FORMAT), self.labels[idx]

    def set_learning_rate(self, step: int) -> float:
        c = self.config
        lr = c.lr * lr_factor(c.schedule, step, self.total_steps, self.warmup_steps, c.gamma, c.milestones)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with training_autocast(self.device, self.precision):
            logits = self.trained(x)
            loss = F.cross_entropy(logits, y, label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        # summed on the device: no synchronisation until the next log
        self.loss_sum += loss.detach() * len(y)
        self.correct += (logits.detach().argmax(1) == y).sum()
        self.seen += len(y)

    def reset_meter(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.long)
        self.seen = 0

    def log_event(self, lr: float) -> TrainEvent:
        """The "step" event (means since the last one), or the "nan" end of a diverged run."""
        sums = self.ranks.sum(torch.stack([self.loss_sum.double(), self.correct.double(),
                                           torch.tensor(float(self.seen), dtype=torch.float64, device=self.device)]))
        loss_sum, correct, seen = sums.tolist()
        train_loss, train_acc = loss_sum / seen, correct / seen
        self.reset_meter()
        if not math.isfinite(train_loss):
            kept = f" The last good checkpoint is {self.last_checkpoint}." if self.last_checkpoint else ""
            event = self.event("end", reason="nan", checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                               message=f"The loss became {train_loss} at step {self.step}: the learning rate ({lr:g}) "
                                       f"is probably too high; lower it and train again.{kept}")
            self.write_run_files(status="nan")  # the curves up to here; the weights stay the last good ones
            event.files = self.files()
            return event
        per_step = self.train_time / self.steps_timed
        return self.event("step", lr=lr, train_loss=train_loss, train_acc=train_acc,
                          images_per_s=self.batches.batch_size / per_step,
                          eta_s=per_step * (self.total_steps - self.step), elapsed_s=self.elapsed())

    def eval_event(self) -> TrainEvent:
        """Test metrics (on eval_subset images mid-epoch, all at an epoch's end), validation metrics."""
        limit = None if self.at_epoch_end() else self.config.eval_subset
        self.ranks.share_buffers(self.model)  # under torchrun: every rank evaluates rank 0's model
        self.metrics["test_loss"], self.metrics["test_acc"] = evaluate(self.model, self.test_set, limit, self.ranks)
        if self.val_set is not None:
            self.metrics["val_loss"], self.metrics["val_acc"] = evaluate(self.model, self.val_set, ranks=self.ranks)
        return self.event("eval", **self.metrics, elapsed_s=self.elapsed())

    def end_epoch(self) -> None:
        """A CAM frame; the best checkpoint (by validation accuracy) and the last one, resumable."""
        self.capture_cam_frame()
        val_acc = self.metrics.get("val_acc")
        if self.val_set is not None and (self.best_metric is None or val_acc > self.best_metric):
            self.best_metric = val_acc
            self.save_weights("best")
        self.save_weights("last")
        self.save_state()
        self.write_run_files(status="running")

    def finish(self, reason: str) -> TrainEvent:
        """The end: a last CAM frame and checkpoint when stopped between epochs, then the "end" event."""
        if reason != "done":  # stopped or out of time: keep the weights and the position for Resume
            self.capture_cam_frame()
            self.save_weights("last")
        if reason == "done":
            message = f"done: test accuracy {self.metrics.get('test_acc', float('nan')):.2%}"
        else:
            message = f"{reason.replace('_', ' ')} at step {self.step}"
        event = self.event("end", reason=reason, message=message, elapsed_s=self.elapsed(),
                           checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None)
        self.save_state()  # after the end event: a resumed run's history shows where this part ended
        self.write_run_files(status=reason)
        event.files = self.files()
        return event

    # --- helpers of the phases ---------------------------------------------------------
    def at_epoch_end(self) -> bool:
        return self.step % self.batches.per_epoch == 0 or self.step == self.total_steps

    def epoch(self) -> float:
        return round(self.step / self.batches.per_epoch, 4)

    def event(self, kind: str, **fields) -> TrainEvent:
        """A TrainEvent at the current step, kept in the history (all but "start")."""
        e = TrainEvent(kind=kind, step=self.step, epoch=self.epoch(), total_steps=self.total_steps,
                       device=str(self.device), history=self.history, run_dir=self.config.out_dir, **fields)
        if kind != "start":
            self.history.append(e.to_dict())
        return e

    def start_message(self) -> str:
        c = self.config
        world = self.ranks.world_size
        ranks = f" × {world} ranks (DDP, {self.batches.batch_size // world}+ images each)" if world > 1 else ""
        return (f"{c.model} on {c.dataset}: {len(self.train_set)} training images, {self.total_steps} steps "
                f"of {self.batches.batch_size} on {self.device}{ranks}, {self.precision} ({self.precision_why})")

    def capture_cam_frame(self, at_start: bool = False) -> None:
        """One frame of the CAM timeline: before the first step, and once per epoch."""
        timeline = self.timeline
        if timeline is None or (at_start and (self.step > 0 or timeline.frames)):
            return
        if timeline.frames and timeline.frames[-1].epoch == self.epoch():
            return
        timeline.capture(self.model, self.epoch(), self.train_set.mean, self.train_set.std)

    # --- files -------------------------------------------------------------------------
    def checkpoint_meta(self) -> dict:
        return {**self.train_set.meta(), "dataset": self.config.dataset, "model": self.config.model,
                "knobs": self.model_knobs(), "metrics": dict(self.metrics), "epoch": self.epoch(),
                "train_config": self.config.to_dict(), "precision": self.precision}

    def save_weights(self, name: str) -> Path | None:
        """The model as <name>.safetensors ("last" or "best"), with its metadata."""
        if self.run_dir is None:
            return None
        path = save_checkpoint(self.run_dir.file(f"{name}.safetensors"), self.model, self.checkpoint_meta())
        if name == "last":
            self.last_checkpoint = path
        return path

    def save_state(self) -> None:
        """last.state.pt beside the last weights: what Resume needs (optimizer, position, curves)."""
        if self.run_dir is None or self.last_checkpoint is None:
            return
        save_training_state(self.run_dir.state_path(self.last_checkpoint), {
            "config": self.config.to_dict(), "optimizer": self.optimizer.state_dict(), "step": self.step,
            "history": self.history, "best_metric": self.best_metric, "precision": self.precision,
            "timeline": self.timeline.state() if self.timeline is not None else None,
        })  # fmt: skip

    def write_run_files(self, status: str) -> None:
        """metrics.csv, the CAM timeline's frames and the run record (record.json); when the run
        ends (any status but "running"), also the timeline as one strip and as a GIF."""
        if self.run_dir is None:
            return
        run = self.run_dir
        run.write_metrics(self.history, TrainEvent.recorded_fields())
        images = []
        if self.timeline is not None and self.timeline.frames:
            options = dict(size=CAM_FRAME_SIZE, class_names=list(self.train_set.class_names))
            for frame, picture in zip(self.timeline.frames, self.timeline.overlays(**options)):
                name = f"images/cam-epoch{frame.epoch:g}.png"
                if not run.file(name).exists():
                    run.save_picture(name, picture)
                images.append({"kind": "cam", "epoch": frame.epoch, "file": name,
                               "caption": f"epoch {frame.epoch:g}"})
            if status != "running":
                run.save_picture("cam_timeline.png", self.timeline.strip(**options))
                self.timeline.save_gif(run.file("cam_timeline.gif"), **options)
        run.write_record("classifier", status, self.config.to_dict(), self.total_steps, self.history, images,
                         self.file_paths())

    def file_paths(self) -> dict[str, Path | None]:
        run = self.run_dir
        best = run.file("best.safetensors")
        timeline = run.file("cam_timeline.gif")
        return {"checkpoint": self.last_checkpoint, "best": best if best.exists() else None,
                "metrics": run.file(run.METRICS), "record": run.file(run.RECORD),
                "cam_timeline": timeline if timeline.exists() else None,
                "cam_strip": run.file("cam_timeline.png") if timeline.exists() else None}



@dataclass
class ClassifierReport:
    """How a trained classifier does on its test set, image by image."""

    class_names: list[str]
    test_set: datasets.ImageDataset
    predictions: torch.Tensor  # (N,) predicted class of each test image
    confidence: torch.Tensor  # (N,) softmax probability of that prediction
    confusion: torch.Tensor  # (K, K) counts; row = true class, column = predicted

    @property
    def wrong(self) -> torch.Tensor:
        """Indices of the misclassified test images, in test-set order."""
        return (self.predictions != self.test_set.labels).nonzero().flatten()


def classifier_report(checkpoint: str | Path) -> ClassifierReport:
    """The confusion matrix and per-image predictions of a checkpoint on its own test set (the
    dataset, size and normalisation its training config and metadata record)."""
    model, meta = load_checkpoint(checkpoint, kind="classifier")
    config = meta.get("train_config") or {"image_size": meta["input_size"][-1]}
    test = datasets.load_dataset(meta["dataset"], "test", image_size=config.get("image_size"),
                                 path=config.get("dataset_path"))
    probabilities = predict_logits(model, test.images, meta["mean"], meta["std"]).softmax(1)
    confidence, predictions = probabilities.max(1)
    names = list(meta["class_names"])
    return ClassifierReport(names, test, predictions, confidence, confusion_matrix(predictions, test.labels, len(names)))
