"""Training where the GPU is: in this process on a plain host, or chunk by chunk on a ZeroGPU Space.

ZeroGPU is how a free Hugging Face account hosts a Space with a GPU. There a GPU exists only inside
functions decorated with `spaces.GPU`; each call of one runs in a forked worker process, gets its
arguments and sends back its results (every item, for a generator) pickled, and is aborted past its
requested duration. So a run trains in chunks:

    for event in GPURun(Trainer, config).run(session.stop):   # the same events as Trainer(config).run(stop)
        ...

- Each chunk is one GPU call (`train_chunk`) of at most CHUNK_S seconds of training: it makes the
  trainer (the first from the config, the next ones resuming the run's folder), trains, and ends
  with the trainer's own time limit, which saves the exact position (cnnzoo.trainer: a resumed
  run continues exactly where it stopped). Its events come back one by one as they happen.
- Stop crosses the process boundary as a file: a thread of this process writes it when the
  session's Stop is pressed; the trainer in the worker checks it before every step (FileStop).
- The run's own time limit (the server's MAX_TRAIN_S) counts over all its chunks.
- Nothing touches CUDA in this process: on ZeroGPU, torch here reports a GPU that only the
  decorated functions may use, so "auto" means the CPU for everything else (the light tabs).

Elsewhere `GPURun` trains in this process, as a plain `trainer.run(stop)` would: no chunks. Two
environment variables exercise the ZeroGPU contract on any machine (tests/test_spaces.py):
CNNZOO_GPU_STANDIN=1 runs each decorated call in a forked process with pickled arguments and a
duration limit (`forked`), and CNNZOO_GPU_CHUNK_S sets the chunk length.
"""
from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import pickle
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import torch

from cnnzoo import compute

ZERO_GPU = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")  # as the spaces package reads it
STAND_IN = os.environ.get("CNNZOO_GPU_STANDIN") == "1"
CHUNKED = ZERO_GPU or STAND_IN
CHUNK_S = float(os.environ.get("CNNZOO_GPU_CHUNK_S", 40))  # training seconds per GPU call
# What one call asks for: its training, plus set-up (data onto the GPU), evaluations and the
# checkpoint, which the trainer's time limit does not count. ZeroGPU's default is 60 s.
DURATION_S = round(CHUNK_S * 1.25 + 20)

if ZERO_GPU:
    import spaces  # noqa: F401  (before anything initialises CUDA: it patches torch)

    compute.AUTO_DEVICE = "cpu"  # this process's "auto"; the GPU calls' workers set their own


class GPUAborted(RuntimeError):
    """A GPU call ran past its duration and was ended (ZeroGPU says "GPU task aborted")."""


def gpu(duration: float):
    """The decorator of a function that wants the GPU: spaces.GPU on ZeroGPU, the forked stand-in
    with CNNZOO_GPU_STANDIN=1, else the function itself."""
    if ZERO_GPU:
        return spaces.GPU(duration=duration)
    if STAND_IN:
        return lambda fn: functools.wraps(fn)(functools.partial(forked, fn, duration))
    return lambda fn: fn


def forked(fn: Callable[..., Iterator], duration: float, *args, **kwargs) -> Iterator:
    """ZeroGPU's contract on any machine: the generator `fn(*args, **kwargs)` runs in a forked
    process; arguments and every item it yields travel pickled; past `duration` seconds the process
    is killed and GPUAborted raised. An exception in it is raised here (the message travels)."""
    payload = pickle.dumps((args, kwargs))  # what cannot be pickled fails here, as on ZeroGPU
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_forked_child, args=(fn, payload, send), daemon=True)
    process.start()
    send.close()
    deadline = time.monotonic() + duration
    try:
        while True:
            if not receive.poll(max(0.0, deadline - time.monotonic())):
                raise GPUAborted(f"GPU task aborted: it ran past its {duration:g} s")
            kind, value = pickle.loads(receive.recv_bytes())
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        process.kill()
        process.join()
        receive.close()


def _forked_child(fn, payload: bytes, send) -> None:
    try:
        args, kwargs = pickle.loads(payload)
        for item in fn(*args, **kwargs):
            send.send_bytes(pickle.dumps(("item", item)))
        send.send_bytes(pickle.dumps(("end", None)))
    except BaseException as error:  # noqa: BLE001  (reported to the caller, whatever it is)
        send.send_bytes(pickle.dumps(("error", error)))


class FileStop:
    """A Stop that crosses processes: set once its file exists. Has threading.Event's is_set."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def is_set(self) -> bool:
        return self.path.exists()


@gpu(DURATION_S)
def train_chunk(trainer_class: type, config, resume_from: str | None, override: dict, stop_file: str):
    """One GPU call: make the trainer (new, or resuming its run), train until its time limit, a
    Stop or the end, and yield its events, with tensors on the CPU. A ValueError (the user's
    settings or data) is yielded, not raised: ZeroGPU passes on only an exception's class name."""
    compute.AUTO_DEVICE = None  # here "auto" is the GPU where there is one
    # A forked process computes with one OpenMP thread: with more, its first parallel operation
    # after the parent's hangs (GNU libgomp; measured here: a conv forward never returned).
    torch.set_num_threads(1)
    try:
        trainer = trainer_class(config, resume_from=resume_from, override=override)
        for event in trainer.run(FileStop(stop_file)):
            yield on_cpu(event)
    except ValueError as error:
        yield error


def on_cpu(event):
    """The event with its tensors (a GAN's sample grid) on the CPU: what a worker may send back."""
    moved = {f.name: getattr(event, f.name).cpu() for f in dataclasses.fields(event)
             if isinstance(getattr(event, f.name), torch.Tensor)}
    return dataclasses.replace(event, **moved) if moved else event


class GPURun:
    """A trainer to make and run where the GPU is: `GPURun(Trainer, config).run(stop)` yields the
    events `Trainer(config).run(stop)` would (resume_from / override as the trainers take them)."""

    def __init__(self, trainer_class: type, config=None, *, resume_from: str | Path | None = None,
                 override: dict | None = None):
        self.trainer_class, self.config, self.override = trainer_class, config, dict(override or {})
        self.resume_from = str(resume_from) if resume_from is not None else None

    def run(self, stop: threading.Event) -> Iterator:
        if not CHUNKED:
            yield from self.trainer_class(self.config, resume_from=self.resume_from, override=self.override).run(stop)
            return
        yield from self.chunks(stop)

    def chunks(self, stop: threading.Event) -> Iterator:
        """The run as GPU calls of CHUNK_S training seconds each, one after another."""
        limit = self.override.get("time_limit_s", self.config.time_limit_s if self.config is not None else None)
        left = float("inf") if limit is None else float(limit)
        config, resume_from, started = self.config, self.resume_from, False
        with stop_file(stop) as file:
            while True:
                chunk = min(CHUNK_S, left)
                if config is not None:  # the first call of a new run
                    chunk_config, override = dataclasses.replace(config, time_limit_s=chunk), {}
                else:
                    chunk_config, override = None, {**self.override, "time_limit_s": chunk}
                end = None
                for event in train_chunk(self.trainer_class, chunk_config, resume_from, override, str(file)):
                    if isinstance(event, ValueError):
                        raise event
                    if event.kind == "end":
                        end = event
                    elif event.kind != "start" or not started:  # a later call's start is not news
                        started = True
                        yield event
                left -= chunk
                if end is None:
                    raise RuntimeError("a GPU call ended without the trainer's end event")
                if end.reason != "time_limit" or left <= 0:
                    yield end
                    return
                if end.run_dir is None:
                    raise ValueError("A run in chunks needs an out_dir to resume from between GPU calls.")
                # the next call resumes the run's folder (after a Stop pressed meanwhile, it stops at once)
                config, resume_from = None, end.run_dir


@functools.cache
def _stop_folder() -> Path:
    import tempfile

    folder = Path(tempfile.gettempdir()) / "cnnzoo-stops"
    folder.mkdir(exist_ok=True)
    return folder


class stop_file:
    """A file that exists once `stop` is set, for the GPU calls' trainers (FileStop): a thread
    watches the event while the run lasts; the file is removed afterwards."""

    def __init__(self, stop: threading.Event):
        self.stop, self.done = stop, threading.Event()
        self.path = _stop_folder() / f"stop-{uuid.uuid4().hex}"

    def watch(self) -> None:
        while not self.done.is_set():
            if self.stop.wait(0.2):
                self.path.touch()
                return

    def __enter__(self) -> Path:
        threading.Thread(target=self.watch, name="cnnzoo-stop-watch", daemon=True).start()
        return self.path

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.path.unlink(missing_ok=True)
