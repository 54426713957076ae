"""Command-line entry points over the cnnzoo core: `python -m train.classifier`, `python -m train.gan`.

Both are the same few lines around their trainer (run_cli): build it from flags or a run
folder, run it with Ctrl-C as a clean stop, print its events, report its files. Both also run
data-parallel under torchrun (cnnzoo.distributed):

    torchrun --standalone --nproc_per_node 2 -m train.classifier --recipe digits-fast --out runs/ddp
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from cnnzoo.distributed import joined, launched_by_torchrun
from cnnzoo.trackers import Trackers


@contextmanager
def ctrl_c_stops(stop: threading.Event):
    """Inside this block, Ctrl-C sets `stop` instead of raising: the training loop notices it at
    the next step, saves a resumable checkpoint and ends with a "stopped" event. (A
    KeyboardInterrupt raised inside the loop's generator would end it without saving.) A second
    Ctrl-C interrupts as usual.

    Under torchrun the ranks run in sessions of their own: a Ctrl-C reaches torchrun, which passes
    it on (SIGINT, or SIGTERM when another rank failed) and kills what has not ended 30 s later.
    A rank therefore treats both as Stop, every time: the ranks agree on the stop at their next
    step (cnnzoo.distributed), rank 0 saves, and all end cleanly.
    """
    under_torchrun = launched_by_torchrun()
    signals = (signal.SIGINT, signal.SIGTERM) if under_torchrun else (signal.SIGINT,)

    def stop_now(signum, frame):
        stop.set()
        if not under_torchrun:
            signal.signal(signal.SIGINT, previous[signal.SIGINT])

    previous = {number: signal.signal(number, stop_now) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def add_tracker_flags(p: argparse.ArgumentParser) -> None:
    extra = "needs the optional trackers: pip install -r requirements-trackers.txt"
    p.add_argument("--tensorboard", nargs="?", const="", metavar="FOLDER",
                   help=f"also write metrics.csv's numbers as TensorBoard event files (default folder: <out>/tensorboard); {extra}")
    p.add_argument("--trackio", metavar="PROJECT",
                   help=f"also log metrics.csv's numbers to this Trackio project, the run named after its folder; {extra}")


def open_trackers(args: argparse.Namespace | None, config) -> Trackers:
    """The trackers the flags ask for (add_tracker_flags), for the run of `config`."""
    tensorboard, trackio = getattr(args, "tensorboard", None), getattr(args, "trackio", None)
    if tensorboard == "":
        tensorboard = Path(config.out_dir) / "tensorboard"
    return Trackers(tensorboard=tensorboard, trackio=trackio, name=Path(config.out_dir).name, config=config.to_dict())


def run_cli(make_trainer: Callable, print_event: Callable, args: argparse.Namespace | None = None) -> int:
    """Build a trainer, run it to its end printing each event (and sending its metrics to the
    trackers the flags ask for), list the run's files. Under torchrun (cnnzoo.distributed) every
    rank trains its shard; rank 0 alone prints, writes and tracks.

    Exit codes: 0 done or stopped, 1 the loss diverged, 2 a user error (one line on stderr:
    impossible settings, a dataset that is not on disk, a folder that is not a run).
    """
    trackers = None
    try:
        with joined():
            trainer = make_trainer()
            speaks = trainer.ranks.writes
            trackers = open_trackers(args if speaks else None, trainer.config)
            stop = threading.Event()
            last = None
            with ctrl_c_stops(stop):
                for last in trainer.run(stop):
                    if speaks:
                        trackers.update(last)
                        print_event(last)
    except ValueError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 2
    finally:
        if trackers is not None:
            trackers.close()
    if speaks:
        print(f"\n{last.message}")
        for role, path in (last.files or {}).items():
            print(f"{role}: {path}")
    return 1 if last.reason == "nan" else 0


def progress_bar(done: float, width: int = 30) -> str:
    filled = int(width * min(1.0, max(0.0, done)))
    return "[" + "#" * filled + "-" * (width - filled) + "]"
