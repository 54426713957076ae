"""The classifier training loop, written as a generator of progress events.

    trainer = Trainer(TrainConfig(model="resnet20", dataset="shapes", epochs=5))
    for event in trainer.run(stop=threading.Event()):
        print(event.kind, event.epoch, event.train_loss, event.test_acc)

The UI turns events into plot rows and a status line, the CLI into a progress bar and a CSV,
the tests assert on them. Design choices, and why:

- Data are resident tensors (cnnzoo.data); augmentation runs on whole batches on the training
  device, so the loop is close to a bare forward/backward/step (see benchmarks/train_loop.py).
- Every batch is a pure function of (seed, epoch, step): the epoch's shuffle comes from a
  generator seeded by (seed, epoch) and each batch's augmentation from one seeded by
  (seed, epoch, step). Resuming mid-epoch therefore continues *exactly* where a run stopped.
- The learning rate is a pure function of the step (`lr_factor`), written out as formulas
  rather than stacked scheduler objects: exact on resume, and readable.
- Stop is cooperative: checked before every step; the loop then saves a consistent
  checkpoint (weights + optimizer + position + curves) and ends with a "stopped" event.
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo import data as datasets
from cnnzoo.cam import CAMTimeline
from cnnzoo.checkpoints import (
    load_checkpoint,
    load_training_state,
    save_checkpoint,
    save_training_state,
)
from cnnzoo.compute import MEMORY_FORMAT, autocast_for, pick_device, predict_logits, seeded_generator
from cnnzoo.registry import create_model, get_entry, model_knobs
from cnnzoo.viz import save_png

OPTIMIZERS = ("sgd", "adam", "rmsprop")
SCHEDULES = ("constant", "multistep", "cosine", "onecycle")


@dataclass
class TrainConfig:
    """Everything that defines a run. Stored inside checkpoints, so a run can be resumed."""

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
    # multistep milestones as fractions of the run: the seeds' WRN recipe drops the lr at
    # epochs 60, 120, 160 of 200; He et al.'s CIFAR ResNets at 50% and 75%.
    milestones: tuple = (0.3, 0.6, 0.8)
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = True
    seed: int = 0
    train_subset: int | None = None  # train on only the first N (shuffled) images
    val_fraction: float = 0.0  # held out of train; picks the "best" checkpoint
    evals_per_epoch: int = 2  # test-set evaluations per epoch (curves)
    eval_subset: int = 1000  # mid-epoch evaluations use at most this many test images
    logs_per_epoch: int = 20  # "step" events per epoch
    device: str = "auto"
    out_dir: str | None = None  # where checkpoints go; None: nothing is written
    time_limit_s: float | None = None  # stop by itself after this much training time

    def validate(self) -> None:
        """Raise ValueError, saying what to do, for settings that cannot work."""
        get_entry(self.model)  # unknown model -> ValueError listing valid names
        if get_entry(self.model).kind != "classifier":
            raise ValueError(f"{self.model} is not a classifier; pick one of the classifier models.")
        bad_knobs = set(self.knobs) - set(model_knobs(self.model)) - {"num_classes", "in_channels"}
        if bad_knobs:
            raise ValueError(f"{self.model} has no knob(s) {sorted(bad_knobs)}; it has {list(model_knobs(self.model))}.")
        checks = [
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
            (0 <= self.val_fraction < 0.5, "validation fraction must be in [0, 0.5)"),
            (self.train_subset is None or self.train_subset >= 1, "training subset must be at least 1 image"),
            (self.evals_per_epoch >= 1 and self.logs_per_epoch >= 1, "evals and logs per epoch must be >= 1"),
            (self.time_limit_s is None or self.time_limit_s > 0, "time limit must be > 0 seconds"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class TrainEvent:
    """One progress record. Fields that do not apply to a kind are None.

    kind: "start" | "step" (train loss/acc since the last step event) | "eval" (test and
    validation metrics) | "end" (reason: "done", "stopped", "time_limit" or "nan").
    """

    kind: str
    step: int  # optimizer steps taken so far
    epoch: float  # fractional epochs done, e.g. 2.25
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


def evaluate(model, ds, device, batch_size: int = 512, limit: int | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in [0, 1]) on the first `limit` images of ds."""
    n = len(ds) if limit is None else min(limit, len(ds))
    logits = predict_logits(model, ds.images[:n], ds.mean, ds.std, batch_size=batch_size)
    labels = ds.labels[:n]
    loss = F.cross_entropy(logits, labels).item()
    acc = (logits.argmax(1) == labels).float().mean().item()
    return loss, acc


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) counts; row = true class, column = predicted class."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def state_path_for(checkpoint_path: str | Path) -> Path:
    """last.safetensors -> last.state.pt: the resume state that travels beside the weights."""
    p = Path(checkpoint_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".state.pt")


class Trainer:
    """One classifier training run. `run()` is the generator of TrainEvents.

    resume_from: a run directory (holding last.safetensors) or a checkpoint path whose
    `.state.pt` lies beside it. `epochs` may be raised on resume to train longer.
    train_set / test_set: ImageDatasets to use instead of loading config.dataset (benchmarks,
    experiments on tensors of your own).
    """

    def __init__(self, config: TrainConfig | None = None, resume_from: str | Path | None = None,
                 epochs: float | None = None, train_set=None, test_set=None):
        self.resume_state: dict | None = None
        self.resume_checkpoint: Path | None = None
        if resume_from is not None:
            ckpt = Path(resume_from)
            if ckpt.is_dir():
                ckpt = ckpt / "last.safetensors"
            if not ckpt.exists() or not state_path_for(ckpt).exists():
                raise ValueError(f"Cannot resume from {resume_from}: it needs a checkpoint and its "
                                 f"{state_path_for(ckpt).name} training state beside it.")
            self.resume_state = load_training_state(state_path_for(ckpt))
            self.resume_checkpoint = ckpt
            stored = TrainConfig.from_dict(self.resume_state["config"])
            if config is not None and config.out_dir:
                stored.out_dir = config.out_dir
            config = stored
        config = config or TrainConfig()
        if epochs is not None:
            config.epochs = epochs
        config.validate()
        self.config = config
        self.device = pick_device(config.device)
        self.history: list[dict] = list(self.resume_state["history"]) if self.resume_state else []
        self.model: nn.Module | None = None
        self.given_sets = (train_set, test_set)
        self.train_set = self.val_set = self.test_set = None
        self.best_metric = self.resume_state.get("best_metric") if self.resume_state else None
        self.last_checkpoint: Path | None = None

    # --- set-up -----------------------------------------------------------------------
    def _load_data(self):
        c = self.config
        kw = dict(image_size=c.image_size, path=c.dataset_path)
        train, self.test_set = self.given_sets
        if train is None:
            train = datasets.load_dataset(c.dataset, "train", **kw)
        if self.test_set is None:
            self.test_set = datasets.load_dataset(c.dataset, "test", **kw)
        if c.train_subset is not None and c.train_subset < len(train):
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(c.seed))
            train = train.subset(order[: c.train_subset])
        if c.val_fraction > 0:
            train, self.val_set = datasets.split_validation(train, c.val_fraction, seed=c.seed)
        if len(train) < 2:
            raise ValueError("The training set needs at least 2 images; raise the training subset size.")
        self.train_set = train

    def _build_model(self) -> nn.Module:
        c, ds = self.config, self.train_set
        knobs = {**c.knobs, "num_classes": len(ds.class_names), "in_channels": ds.channels}
        self.knobs = knobs
        if self.resume_checkpoint is not None:
            model, _ = load_checkpoint(self.resume_checkpoint)
        else:
            torch.manual_seed(c.seed)
            model = create_model(c.model, **knobs)
        return model.to(self.device, memory_format=MEMORY_FORMAT)

    def checkpoint_meta(self, metrics: dict, epoch: float) -> dict:
        ds = self.train_set
        return {
            "model": self.config.model,
            "knobs": self.knobs,
            "class_names": list(ds.class_names),
            "mean": list(ds.mean),
            "std": list(ds.std),
            "input_size": [ds.channels, *ds.image_size],
            "dataset": self.config.dataset,
            "metrics": metrics,
            "epoch": epoch,
            "train_config": self.config.to_dict(),
        }

    def _save(self, name: str, optimizer, step: int, epoch: float, metrics: dict) -> Path | None:
        """Weights (+ resume state for "last") under out_dir; atomic, so never half-written."""
        if not self.config.out_dir:
            return None
        out = Path(self.config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = save_checkpoint(out / f"{name}.safetensors", self.model, self.checkpoint_meta(metrics, epoch))
        if name == "last":
            save_training_state(state_path_for(path), {
                "config": self.config.to_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "history": self.history,
                "best_metric": self.best_metric,
            })
            self.last_checkpoint = path
        return path

    # --- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> Iterator[TrainEvent]:
        c = self.config
        stop = stop or threading.Event()
        self._load_data()
        self.model = model = self._build_model()
        device, fmt = self.device, MEMORY_FORMAT
        optimizer = make_optimizer(c, model.parameters())
        step = 0
        if self.resume_state is not None:
            optimizer.load_state_dict(self.resume_state["optimizer"])
            step = int(self.resume_state["step"])

        train = self.train_set
        images = train.images.to(device)  # uint8, moved once: (N, C, H, W)
        labels = train.labels.to(device)
        n, batch_size = len(train), min(c.batch_size, len(train))
        steps_per_epoch = max(1, n // batch_size)  # drop the ragged last batch (BN needs > 1)
        total_steps = max(1, round(c.epochs * steps_per_epoch))
        warmup_steps = round(c.warmup_epochs * steps_per_epoch)
        log_every = max(1, steps_per_epoch // c.logs_per_epoch)
        eval_every = max(1, steps_per_epoch // c.evals_per_epoch)
        scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and not torch.cuda.is_bf16_supported())

        def event(kind, **kw):
            e = TrainEvent(kind=kind, step=step, epoch=round(step / steps_per_epoch, 4),
                           device=str(device), **kw)
            if kind != "start":
                self.history.append(e.to_dict())
            return e

        yield event("start", message=f"{c.model} on {c.dataset}: {n} training images, "
                    f"{total_steps} steps of {batch_size} on {device}")
        train_time, steps_timed = 0.0, 0
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen, perm, perm_epoch = 0, None, -1
        metrics: dict = {}
        started = time.perf_counter()
        model.train()
        while step < total_steps:
            if stop.is_set() or (c.time_limit_s and train_time >= c.time_limit_s):
                reason = "stopped" if stop.is_set() else "time_limit"
                path = self._save("last", optimizer, step, step / steps_per_epoch, metrics)
                yield event("end", reason=reason, checkpoint=str(path) if path else None,
                            message=f"{reason.replace('_', ' ')} at step {step}")
                return
            t0 = time.perf_counter()
            epoch, s = divmod(step, steps_per_epoch)
            if epoch != perm_epoch:
                perm = torch.randperm(n, generator=seeded_generator(torch.device("cpu"), c.seed, epoch)).to(device)
                perm_epoch = epoch
            idx = perm[s * batch_size:(s + 1) * batch_size]
            x = images[idx]
            if c.augment:
                x = datasets.augment_batch(x, pad=train.augment_pad, flip=train.flip,
                                           generator=seeded_generator(device, c.seed, epoch, s))
            x = datasets.normalize(x, train.mean, train.std).contiguous(memory_format=fmt)
            y = labels[idx]
            lr = c.lr * lr_factor(c.schedule, step, total_steps, warmup_steps, c.gamma, c.milestones)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast_for(device):
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=c.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            seen += len(y)
            step += 1
            train_time += time.perf_counter() - t0
            steps_timed += 1

            at_epoch_end = step % steps_per_epoch == 0 or step == total_steps
            if step % log_every == 0 or at_epoch_end:
                train_loss = loss_sum.item() / seen
                if not math.isfinite(train_loss):
                    kept = f" The last good checkpoint is {self.last_checkpoint}." if self.last_checkpoint else ""
                    yield event("end", reason="nan", checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                                message=f"The loss became {train_loss} at step {step}: the learning rate "
                                        f"({lr:g}) is probably too high; lower it and train again.{kept}")
                    return
                per_step = train_time / steps_timed
                yield event("step", lr=lr, train_loss=train_loss, train_acc=correct.item() / seen,
                            images_per_s=batch_size / per_step, eta_s=per_step * (total_steps - step),
                            elapsed_s=time.perf_counter() - started)
                loss_sum.zero_(), correct.zero_()
                seen = 0
            if step % eval_every == 0 or at_epoch_end:
                limit = None if at_epoch_end else c.eval_subset
                metrics["test_loss"], metrics["test_acc"] = evaluate(model, self.test_set, device, limit=limit)
                if self.val_set is not None:
                    metrics["val_loss"], metrics["val_acc"] = evaluate(model, self.val_set, device)
                yield event("eval", **metrics, elapsed_s=time.perf_counter() - started)
                if at_epoch_end:
                    if self.val_set is not None and (self.best_metric is None or metrics["val_acc"] > self.best_metric):
                        self.best_metric = metrics["val_acc"]
                        self._save("best", optimizer, step, step / steps_per_epoch, metrics)
                    self._save("last", optimizer, step, step / steps_per_epoch, metrics)
        yield event("end", reason="done", checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                    message=f"done: test accuracy {metrics.get('test_acc', float('nan')):.2%}",
                    elapsed_s=time.perf_counter() - started)


def probe_timeline(config: TrainConfig, probe_index: int) -> CAMTimeline:
    """A CAM timeline of test image #probe_index (wrapped around) of the run's dataset, from the
    untrained model on: wrap a run's events with its .record(events, trainer)."""
    test = datasets.load_dataset(config.dataset, "test", image_size=config.image_size, path=config.dataset_path)
    return CAMTimeline(test.images[probe_index % len(test)], include_start=True)


def save_cam_timeline(timeline: CAMTimeline, folder: str | Path, class_names) -> tuple[Path, Path]:
    """The timeline as folder/cam_timeline.png (a strip) and folder/cam_timeline.gif."""
    options = dict(size=96, class_names=list(class_names))
    strip = save_png(timeline.strip(**options), Path(folder) / "cam_timeline.png")
    return strip, timeline.save_gif(Path(folder) / "cam_timeline.gif", **options)


def write_metrics_csv(history: list[dict], path: str | Path, fields: list[str] | None = None) -> Path:
    """The run's events as a CSV (one row per event), for spreadsheets and plots; atomic.

    fields: the columns, by default TrainEvent's (the GAN loop passes GANEvent's)."""
    import csv

    fields = fields or [f.name for f in dataclasses.fields(TrainEvent)]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k) for k in fields})
    os.replace(tmp, path)
    return path
