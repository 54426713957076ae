"""A recorded run played back as if it were training now: the events its trainer made, on its clock.

    replay = Replay("checkpoints/records/resnet20-digits", speed=8)   # 8× the recorded speed
    for event in replay.run(stop):        # TrainEvents (or GANEvents): what Trainer.run yielded
        show(event)
    history = replay.history_at(step=120)  # the scrub bar: the run's records up to step 120

A run record (cnnzoo.runs: record.json and the pictures it names, nothing else) holds every event
of the run but "start" and the GAN's "sample" events, whose pictures it keeps under images/ with
their step. So a replay yields the same kinds of events, with the same fields and the same
growing history, spaced by the recorded `elapsed_s` divided by `speed`; the pages that draw a
live run draw a replay without knowing. Stop ends it at once ("stopped"); `from_step` starts it
there (everything before at once). Records of runs made elsewhere (a CIFAR-10 ResNet-56 on a GPU)
can be shipped without their weights: `pack_record` copies what a replay needs.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from cnnzoo.files import atomic_write
from cnnzoo.gan_trainer import GANEvent
from cnnzoo.runs import RunDir, read_record
from cnnzoo.trainer import TrainEvent

EVENTS = {"classifier": TrainEvent, "gan": GANEvent}
SPEEDS = (1, 4, 16, 64, 256)  # the app's choices: 1 = the recorded pace
PACKED_FILES = ("cam_strip", "cam_timeline", "samples", "gif")  # the pictures a replay shows at its end
MAX_PACKED_GRIDS = 20  # sample grids kept when packing a GAN record (evenly spread, the first and last kept)


class Replay:
    """The run recorded in `folder` (its record.json), as its trainer's events; run() as Trainer.run."""

    def __init__(self, folder: str | Path, speed: float = 1.0, from_step: int = 0, name: str | None = None):
        if not speed > 0:
            raise ValueError("the replay speed must be > 0 (1 = as recorded)")
        self.folder = Path(folder)
        self.record = read_record(self.folder)
        if self.record.get("kind") not in EVENTS:
            raise ValueError(f"{self.folder} records a run of kind {self.record.get('kind')!r}, which cannot be replayed")
        self.kind, self.config = self.record["kind"], self.record["config"]
        self.speed, self.from_step = float(speed), int(from_step)
        self.name = name or f"{self.config.get('model')} · {self.config.get('dataset')}"
        self.total_steps = int(self.record["total_steps"])
        self.event_type = EVENTS[self.kind]

    # --- what a scrub bar shows ---------------------------------------------------------
    def history_at(self, step: int) -> list[dict]:
        """The run's records up to and including `step`."""
        return [r for r in self.record["events"] if r["step"] <= step]

    def pictures_at(self, step: int, kind: str) -> list[dict]:
        """The record's pictures of `kind` ("samples", "cam") up to `step` (CAM frames by their epoch)."""
        per_epoch = self.steps_per_epoch()
        return [i for i in self.record.get("images", []) if i["kind"] == kind
                and i.get("step", round(i.get("epoch", 0) * per_epoch)) <= step]

    def steps_per_epoch(self) -> float:
        last = next((r for r in reversed(self.record["events"]) if r.get("epoch")), None)
        return last["step"] / last["epoch"] if last else 1.0

    def picture(self, entry: dict) -> torch.Tensor:
        """A picture of the record as uint8 (H, W, C), as the trainer made it."""
        image = Image.open(self.folder / entry["file"])
        picture = np.array(image if image.mode in ("L", "RGB") else image.convert("RGB"))
        return torch.from_numpy(picture[..., None] if picture.ndim == 2 else picture)  # grey: (H, W, 1)

    def files(self) -> dict[str, str]:
        """The record's files that are present (weights, pictures), by role, as absolute paths."""
        found = {}
        for role, name in self.record.get("files", {}).items():
            path = (self.folder / name).resolve()
            if path.exists():
                found[role] = str(path)
        return found

    # --- the replay -------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> Iterator:
        """The recorded events, each after its recorded delay / speed; Stop ends the replay at once."""
        stop = stop or threading.Event()
        history: list[dict] = []
        grids = iter(self.pictures_at(self.total_steps, "samples"))
        grid = next(grids, None)
        clock = 0.0
        yield self.event(history, kind="start", step=0, epoch=0.0, device=self.first("device"),
                         message=f"a replay of a recorded run at {self.speed:g}× its speed: {self.summary()}")
        for record in self.record["events"]:
            elapsed = record.get("elapsed_s")
            wait = 0.0 if elapsed is None or record["step"] < self.from_step else max(0.0, elapsed - clock) / self.speed
            clock = elapsed if elapsed is not None else clock
            while grid is not None and grid["step"] <= record["step"]:  # the GAN's pictures, at their step
                yield self.event(history, kind="sample", step=grid["step"], epoch=grid.get("epoch"),
                                 samples=self.picture(grid))
                grid = next(grids, None)
            if stop.wait(wait):
                yield self.end(history, "stopped", f"replay stopped at step {history[-1]['step'] if history else 0}")
                return
            history.append(record)
            if record["kind"] == "end":
                yield self.end(history, record["reason"], record.get("message"), record)
                return
            yield self.event(history, **record)
        yield self.end(history, self.record["status"], f"the record ends ({self.record['status']})")

    def event(self, history: list, **fields):
        """An event of the run's type from recorded fields (fields of another version are ignored)."""
        known = {name: value for name, value in fields.items() if name in self.event_type.__dataclass_fields__}
        known.update(history=history, run_dir=str(self.folder), total_steps=self.total_steps)
        return self.event_type(**known)

    def end(self, history: list, reason: str, message: str | None, record: dict | None = None):
        """The end event: the recorded one (or a stop's), with the record's files that are present;
        the weights as its checkpoint only when the recorded run ended "done"."""
        files = self.files()
        fields = dict(record or {}, kind="end", reason=reason, message=message)
        fields.setdefault("step", history[-1]["step"] if history else 0)
        fields.setdefault("epoch", history[-1].get("epoch") if history else 0.0)
        done = reason == "done" and self.record["status"] == "done"
        fields["checkpoint"] = (files.get("checkpoint") or files.get("generator")) if done else None
        fields["gif"] = files.get("gif")  # here, not where the recorded run wrote it
        event = self.event(history, **fields)
        event.files = files
        return event

    def first(self, field: str):
        return next((r[field] for r in self.record["events"] if r.get(field) is not None), None)

    def summary(self) -> str:
        c = self.config
        if self.kind == "gan":
            return f"{c.get('model', '?').upper()} on {c.get('dataset')}, {self.total_steps} steps"
        return f"{c.get('model')} on {c.get('dataset')}, {c.get('epochs'):g} epochs, {self.total_steps} steps"


def pack_record(run_folder: str | Path, dest: str | Path, weights: str | Path | None = None,
                title: str | None = None, copy_weights: bool = False) -> Path:
    """Copy what a replay needs of a run folder into `dest`: record.json, its pictures (a GAN's
    sample grids thinned to MAX_PACKED_GRIDS) and the end pictures (CAM strip and GIF, samples and
    progress GIF); metrics.csv too. The weights stay out unless `weights` names where they are
    shipped: the record then points at them (a relative path), so the replay ends on the model.
    `title` names the record in the app's lists (the record's optional "title"); copy_weights puts
    the run's own weights into the record (a small model whose test report the replay should show)."""
    source, dest = Path(run_folder), Path(dest)
    record = read_record(source)
    grids = [i for i in record["images"] if i["kind"] == "samples"]
    if len(grids) > MAX_PACKED_GRIDS:
        keep = {round(k * (len(grids) - 1) / (MAX_PACKED_GRIDS - 1)) for k in range(MAX_PACKED_GRIDS)}
        dropped = {id(g) for k, g in enumerate(grids) if k not in keep}
        record["images"] = [i for i in record["images"] if id(i) not in dropped]
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "images").mkdir(parents=True)
    for entry in record["images"]:
        shutil.copy2(source / entry["file"], dest / entry["file"])
    files = {}
    for role, name in record["files"].items():
        if role in PACKED_FILES or role == "metrics":
            shutil.copy2(source / name, dest / name)
            files[role] = name
    role = "generator" if record["kind"] == "gan" else "checkpoint"
    if copy_weights:
        shutil.copy2(source / record["files"][role], dest / Path(record["files"][role]).name)
        files[role] = Path(record["files"][role]).name
    elif weights is not None:
        files[role] = os.path.relpath(Path(weights).resolve(), dest.resolve())
    record["files"] = files
    if title:
        record["title"] = title
    record["config"]["out_dir"] = None  # a path of the machine it ran on
    atomic_write(dest / RunDir.RECORD, json.dumps(record, separators=(",", ":")))
    return dest
