"""Command-line entry points over the cnnzoo core: `python -m train.classifier`, `python -m train.gan`."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def ctrl_c_stops(stop: threading.Event):
    """Inside this block, Ctrl-C sets `stop` instead of raising: the training loop notices it at
    the next step, saves a resumable checkpoint and ends with a "stopped" event. (A
    KeyboardInterrupt raised inside the loop's generator would end it without saving.) A second
    Ctrl-C interrupts as usual."""

    def first_ctrl_c(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, first_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
