"""What the two training loops share: a run's settings, its batches, and the folder of its files.

    config.validate()                        # ValueError saying what to do, from config.checks()
    config = stored.resumed({"epochs": 30})  # the one rule for what a resume may change
    batches = ShuffledBatches(n, 128, seed=0, device=device)
    idx = batches.indices(step)              # batch `step` of the run: a pure function of (seed, step)
    run = RunDir("runs/r20")                 # every file of the run is written through it

A run folder holds (classifier | GAN):

    last.safetensors, best.safetensors      | generator.safetensors, discriminator.safetensors
        weights + metadata (cnnzoo.checkpoints: rebuilds the model on its own)
    last.state.pt                           | generator.state.pt
        the resume state: optimizer, position, curves (torch.save, loaded weights_only)
    metrics.csv        one row per event, for spreadsheets
    record.json        the run record (below), for replaying and reporting the run
    images/…           the pictures the record points at: CAM frames per epoch, sample grids
    cam_timeline.png, cam_timeline.gif      | samples.png, progress.gif

The run record (record.json) is small, self-describing JSON:

    {"format": "cnnzoo-run", "version": 1, "kind": "classifier" | "gan",
     "status": "running" | "done" | "stopped" | "time_limit" | "nan",
     "config": {...the TrainConfig / GANConfig...},
     "total_steps": 160,
     "events": [{"kind": "step", "step": 8, "epoch": 0.5, "train_loss": 1.2, ...}, ...],
     "images": [{"kind": "cam" | "samples", "step": 80, "epoch": 5.0, "file": "images/…png",
                 "caption": "…"}, ...],
     "files": {"checkpoint": "last.safetensors", "metrics": "metrics.csv", ...},
     "title": "…"}    (optional: the name of a shipped record, cnnzoo.replay.pack_record)

Paths inside are relative to the folder, so a record and its images can be copied elsewhere
(without the weights) and still be replayed.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path
from typing import ClassVar

import torch

from cnnzoo.checkpoints import load_training_state
from cnnzoo.compute import seeded_generator
from cnnzoo.distributed import Ranks
from cnnzoo.files import atomic_write, json_ready
from cnnzoo.viz import save_png

RECORD_FORMAT, RECORD_VERSION = "cnnzoo-run", 1


class RunConfig:
    """The base of TrainConfig and GANConfig (both dataclasses): checks, dicts, the resume rule.

    A subclass lists its checks as (ok, message) pairs; `validate` raises the first failing
    message as a ValueError. RESUMABLE names the settings a resumed run may change: where its
    files go, how long it trains, its time budget and its device. Everything else defines the
    run and comes from its checkpoint (nanoGPT's "force these config attributes to be equal").
    """

    RESUMABLE: ClassVar[tuple[str, ...]] = ("out_dir", "time_limit_s", "device")
    # Fields added since a run was stored: the value the run was trained with (not the new default).
    STORED_DEFAULTS: ClassVar[dict] = {}

    def checks(self) -> list[tuple[bool, str]]:
        raise NotImplementedError

    def validate(self) -> None:
        """Raise ValueError, saying what to do, for settings that cannot work."""
        for ok, message in self.checks():
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        """A config from a dict; keys it does not know (from another version) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def resumed(self, override: dict | None = None):
        """This (stored) config with the settings a resume may change; None values are ignored."""
        override = {k: v for k, v in (override or {}).items() if v is not None}
        fixed = sorted(set(override) - set(self.RESUMABLE))
        if fixed:
            raise ValueError(f"a resumed run keeps its settings; it can only change {', '.join(self.RESUMABLE)} "
                             f"(not {', '.join(fixed)}). Start a new run to change those.")
        return dataclasses.replace(self, **override)


def open_run(config_class: type, config, state_path: Path | None, override: dict | None):
    """(config, resume state) of a run about to start: `config` itself for a new run; for a resumed
    one (state_path: its resume state, in its run folder) the stored config with the settings a
    resume may change (override, config_class.RESUMABLE), its files staying in its folder unless
    out_dir says otherwise. The config is validated."""
    state = {}
    if state_path is not None:
        state = load_training_state(state_path)
        stored = {**config_class.STORED_DEFAULTS, **state["config"], "out_dir": str(state_path.parent)}
        config = config_class.from_dict(stored).resumed(override)
    elif override:
        raise ValueError("override= is for resumed runs; put the settings in the config")
    config = config or config_class()
    config.validate()
    return config, state


class TrainerBase:
    """What both trainers share once their run has started: the stop rule, the clock, the files."""

    config: RunConfig
    run_dir: "RunDir | None"
    train_time: float
    started: float

    ranks: Ranks = Ranks()  # this process's place in a torchrun run (cnnzoo.distributed)

    STOP_REASONS = (None, "time_limit", "stopped")  # in the order the ranks agree on: the largest wins

    def stop_reason(self, stop) -> str | None:
        """"stopped" after a Stop, "time_limit" once the training time is spent, else None; under
        torchrun, every rank gets the same answer (a Stop on one rank stops all)."""
        reason = None
        if self.config.time_limit_s and self.train_time >= self.config.time_limit_s:
            reason = "time_limit"
        if stop.is_set():
            reason = "stopped"
        return self.STOP_REASONS[self.ranks.largest(self.STOP_REASONS.index(reason))]

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def file_paths(self) -> dict[str, Path | None]:
        raise NotImplementedError

    def files(self) -> dict[str, str]:
        """The run's files that exist, by role: {"checkpoint": ".../last.safetensors", ...}."""
        if self.run_dir is None:
            return {}
        return {role: str(path) for role, path in self.file_paths().items() if path is not None and Path(path).exists()}


class RunEvent:
    """The base of TrainEvent and GANEvent (dataclasses). `to_dict()` is what the history, the
    CSV and the run record keep of an event; fields named in NOT_RECORDED (the history itself,
    file lists, pictures) travel with the live event only."""

    NOT_RECORDED: ClassVar[tuple[str, ...]] = ("history", "files", "run_dir")

    @classmethod
    def recorded_fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name not in cls.NOT_RECORDED]

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.recorded_fields()}


class ShuffledBatches:
    """The batches of a run over n resident images, batch b a pure function of (seed, b).

    Batch b lies in epoch e = b // per_epoch; an epoch visits the images in the order
    randperm(n) drawn from seeded_generator(seed, e), in slices of batch_size. The ragged
    last slice of an epoch is dropped: every batch has the same size, and BatchNorm needs
    more than one image. Resuming at batch b therefore continues exactly where a run stopped.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device):
        self.n, self.batch_size, self.seed, self.device = n, min(batch_size, n), seed, device
        self.per_epoch = max(1, n // self.batch_size)
        self._epoch, self._order = -1, None

    def position(self, b: int) -> tuple[int, int]:
        """(epoch, batch within the epoch) of batch b."""
        return divmod(b, self.per_epoch)

    def indices(self, b: int) -> torch.Tensor:
        """Indices (batch_size,) of batch b, on the device."""
        epoch, s = self.position(b)
        if epoch != self._epoch:  # one permutation per epoch, drawn on the CPU: the same on any device
            generator = seeded_generator(torch.device("cpu"), self.seed, epoch)
            self._order = torch.randperm(self.n, generator=generator).to(self.device)
            self._epoch = epoch
        return self._order[s * self.batch_size:(s + 1) * self.batch_size]


class RunDir:
    """The folder of one run; every file of the run is written through it (atomically)."""

    RECORD, METRICS = "record.json", "metrics.csv"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def state_path(self, checkpoint: str | Path) -> Path:
        """last.safetensors -> <folder>/last.state.pt: the resume state that travels beside the weights."""
        return self.path / (Path(checkpoint).name.removesuffix(".safetensors") + ".state.pt")

    def write_metrics(self, history: list[dict], fields: list[str]) -> Path:
        """The run's events as metrics.csv: one row per event, `fields` as the columns."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)
        return atomic_write(self.file(self.METRICS), text.getvalue(), durable=False)

    def save_picture(self, name: str, picture) -> Path:
        """A uint8 (H, W, C) picture as a PNG under the folder (e.g. images/cam-epoch0003.png)."""
        return save_png(picture, self.file(name))

    def write_record(self, kind: str, status: str, config: dict, total_steps: int, history: list[dict],
                     images: list[dict], files: dict[str, Path | None]) -> Path:
        """record.json: the run as the module docstring describes it."""
        record = {
            "format": RECORD_FORMAT, "version": RECORD_VERSION, "kind": kind, "status": status,
            "config": config, "total_steps": total_steps, "events": history, "images": images,
            "files": {key: self.relative(path) for key, path in files.items() if path is not None},
        }  # fmt: skip
        # Rewritten at every save, so not synced to disk (the checkpoint and its state are):
        # a power cut may cost the newest rows, never a half-written file.
        text = json.dumps(json_ready(record, "the run record"), allow_nan=False, separators=(",", ":"))
        return atomic_write(self.file(self.RECORD), text, durable=False)

    def relative(self, path: str | Path) -> str:
        path = Path(path)
        return str(path.relative_to(self.path)) if path.is_relative_to(self.path) else str(path)


def read_record(folder: str | Path) -> dict:
    """The run record of a run folder (or of a record.json path); ValueError when there is none."""
    path = Path(folder)
    path = path / RunDir.RECORD if path.is_dir() else path
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"no readable run record at {path} ({error})") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ValueError(f"{path} is not a cnnzoo run record")
    return record
