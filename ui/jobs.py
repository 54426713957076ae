"""Training runs that outlive the page that started them.

A run started on a page trains in a thread of its own, owned by the browser's session
(ui.sessions). A reload, a closed laptop lid or a Wi-Fi blip ends the page's event, not the run:
every page of that browser follows the job, redrawing from the job's latest state whenever
something new has happened, and a page that reloads mid-run picks the run up where it is.

    job = session.start_job("train", work)        # work(job) trains, job.publish(event) for each event
    for _ in job.follow():                        # in a page's event: one step per change, at most
        draw(job)                                 #   every UPDATE_EVERY_S; ends when the job has ended

The Experiments tab's landscapes, races and degradation runs are jobs too: stream_job runs a
streaming handler's body in one, keeping the latest value of each output, and a page follows it
(follow_stream) or, after a reload, picks it up (rejoin_stream).

A server-wide number of training slots (CNNZOO_TRAIN_CONCURRENCY) bounds how many jobs train at
once; the others wait their turn in their own threads, and say so (a bounded number of them:
beyond MAX_WAITING a new run is refused with a message, the queue never grows without end).
"""
from __future__ import annotations

import contextlib
import contextvars
import html
import logging
import os
import sys
import threading
import time
from types import SimpleNamespace
from typing import Callable, Iterator

import gradio as gr

from ui.common import TRAIN_LIMIT, UPDATE_EVERY_S
from ui.i18n import said_error, say

TRAIN_SLOTS = threading.BoundedSemaphore(TRAIN_LIMIT)
MAX_WAITING = 64
_waiting = 0
_waiting_lock = threading.Lock()
log = logging.getLogger(__name__)
# How much lower than the pages' requests a training job computes (a Linux nice value, 0-19).
# A class's two runs then no longer slow thirty students' traces and CAMs (benchmarks/load.py);
# with nothing else to do, a run still has every core.
TRAIN_NICE = int(os.environ.get("CNNZOO_TRAIN_NICE", 10))


class Job:
    """One training job of a session, in its own thread.

    kind     "train" (the Train tab) or "gan" (the GAN tab): which tab draws it
    view     what the work wants every page to show, by output name (e.g. the GAN's live grid
             file), set by the work; pages copy it
    latest   the latest event of each kind ("start", "step", "eval", "sample", …; "last": the
             latest of all); events carry the run's history, so the latest one redraws everything
    waiting  the job waits for a free training slot
    error    the message of the ValueError that ended it (a dataset missing offline …), if any
    """

    def __init__(self, kind: str, work: Callable[["Job"], None], needs_slot: bool = True):
        self.kind, self.work, self.needs_slot = kind, work, needs_slot  # a replay trains nothing: no slot
        self.view: dict = {}
        self.latest: dict = {}
        self.waiting, self.done, self.error = needs_slot, False, None
        self.version = 0  # counts changes; followers redraw when it moves
        self.urgent = 0  # the version of the latest change to show at once
        self.changed = threading.Condition()
        # The thread runs in the context of the event that made the job: gradio's request travels
        # with it (on a ZeroGPU Space, the visitor whose GPU quota its GPU calls use, ui/gpu.py).
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._run,), name=f"cnnzoo-{kind}-job", daemon=True)

    def start(self) -> "Job":
        self.thread.start()
        return self

    def publish(self, event=None, **view) -> None:
        """Tell the pages something happened: an event of the run, and/or new view values. Anything
        but a "step" or "eval" event (a start, a picture, a score, the end) is shown at once; those
        two, which come many times a second, at most every UPDATE_EVERY_S."""
        with self.changed:
            if event is not None:
                self.latest[event.kind] = self.latest["last"] = event
            self.view.update(view)
            self.version += 1
            if event is None or event.kind not in ("step", "eval"):
                self.urgent = self.version
            self.changed.notify_all()

    def follow(self, every_s: float = UPDATE_EVERY_S):
        """Yield now, then after each change (routine ones at most every `every_s` seconds), and a
        last time when the job has ended. Closing this generator (the page went away) leaves the
        job alone. A minute without news (waiting for a slot) yields all the same."""
        seen, shown_at = -1, 0.0
        while True:
            with self.changed:
                started = time.monotonic()
                while self.version == seen or (self.urgent <= seen and time.monotonic() < shown_at + every_s):
                    now = time.monotonic()
                    if now - started > 60:
                        break
                    self.changed.wait(timeout=60 if self.version == seen else shown_at + every_s - now)
                seen, done = self.version, self.done
            shown_at = time.monotonic()
            yield self
            if done:
                return

    def _run(self) -> None:
        global _waiting
        try:
            with TRAIN_SLOTS if self.needs_slot else contextlib.nullcontext():
                if self.needs_slot:
                    with _waiting_lock:
                        _waiting -= 1
                self.waiting = False
                self.publish()
                if self.needs_slot:
                    yield_to_pages()
                self.work(self)
        except ValueError as error:  # the user's settings or data: the message says what to do
            self.error = str(error)
        except gr.Error as error:  # the same, said by ui.common.user_errors (escaped there: unescaped
            self.error = html.unescape(str(error.message))  # here, as raise_error escapes it)
        except Exception as error:  # a bug: logged with its traceback, reported plainly
            log.exception("training job failed")
            self.error = f"the run failed with an internal error ({type(error).__name__}); see the server's log"
        finally:
            self.done = True
            self.publish()  # the end, shown at once


# ---------------------------------------------------------------------------------------------
# A streaming handler's body as a job: the Experiments tab's landscape, race and degradation runs
# ---------------------------------------------------------------------------------------------

_ROUTINE = SimpleNamespace(kind="step")  # what a stream's updates publish as: thinned, not urgent


def stream_job(session, kind: str, steps: Iterator, size: int, needs_slot: bool = True) -> Iterator:
    """Run `steps` (the body of a streaming handler: a generator of its outputs' tuples, gr.skip()
    for what stays as it is, the first output the status line) as the session's `kind` job, which
    outlives this page, and stream it to this page (follow_stream). A page that comes back
    (rejoin_stream) gets what it shows so far, then the rest."""
    session.start_side_job(kind, lambda job: _collect(steps, size, job), needs_slot)
    yield from follow_stream(session, kind, size)


def _collect(steps: Iterator, size: int, job: Job) -> None:
    """Keep the latest value of each output and when it changed (the job's view: "outputs",
    "versions"), so a follower sends only what changed since its own last update and misses none."""
    shown, versions = [gr.skip()] * size, [0] * size
    for count, values in enumerate(steps, start=1):
        for i, value in enumerate(values if isinstance(values, tuple) else (values,)):
            if not (type(value) is dict and value == {"__type__": "update"}):  # gr.skip(): stays
                shown[i], versions[i] = value, count
        job.publish(None if count == 1 else _ROUTINE, outputs=list(shown), versions=list(versions))


def follow_stream(session, kind: str, size: int, seen: list[int] | None = None) -> Iterator:
    """Stream the session's `kind` job (stream_job) to this page until it ends: its waiting for a
    slot, then each change; its error as the page's popup."""
    job = session.side_jobs.get(kind)
    seen = seen or [0] * size
    for job in job.follow() if job is not None else ():
        done = job.done  # read first: once it is True, the view below is the last one
        if job.waiting:
            yield _tuple([waiting_text()] + [gr.skip()] * (size - 1))
        with job.changed:  # the outputs and their versions as one
            shown, versions = job.view.get("outputs"), job.view.get("versions")
        if versions and max(versions) > max(seen):
            yield _tuple([value if new > old else gr.skip() for value, new, old in zip(shown, versions, seen)])
            seen = versions
        if done:
            raise_error(job)
            return


def rejoin_stream(session, kind: str, size: int) -> Iterator:
    """On page load (also after a reload): what the session's `kind` job shows, streaming on if it
    still runs; an error it ended with is said on the status line, not as a popup on every load."""
    job = session.side_jobs.get(kind)
    if job is None:
        yield _tuple([gr.skip()] * size)
    elif job.done and job.error:
        ended = say("It ended with an error: {error}", error=html.escape(said_error(job.error)))
        yield _tuple([ended] + [gr.skip()] * (size - 1))
    else:
        yield from follow_stream(session, kind, size)


def _tuple(values: list):
    return values[0] if len(values) == 1 else tuple(values)


def yield_to_pages(nice: int = TRAIN_NICE) -> None:
    """Lower the CPU priority of the calling thread, and of the threads it starts from now on
    (torch's OpenMP workers for this thread are among them), by `nice`. Linux only: elsewhere a
    nice value is the whole process's, pages included, so nothing changes. A priority once
    lowered cannot be raised back without privileges: call it only in a thread of its own."""
    if sys.platform.startswith("linux") and nice > 0:
        try:  # on Linux, PRIO_PROCESS with a thread id sets that thread's nice value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
        except OSError as error:  # a container that forbids it: train at the pages' priority
            log.warning("could not lower a training thread's priority: %s", error)


def queue_job(job: Job) -> Job:
    """Start a job: it waits in its thread for a training slot. A gr.Error when too many wait."""
    global _waiting
    if not job.needs_slot:
        return job.start()
    with _waiting_lock:
        if _waiting >= MAX_WAITING:
            raise gr.Error(f"The server is busy: {_waiting} runs are waiting for a training slot. "
                           f"Try again in a few minutes.")
        _waiting += 1
    return job.start()


def waiting_jobs() -> int:
    with _waiting_lock:
        return _waiting


def waiting_text() -> str:
    """What a page says while its job waits for a training slot."""
    return say("Waiting for a free training slot: {waiting} run(s) waiting; this server trains {limit} at once.",
               waiting=waiting_jobs(), limit=TRAIN_LIMIT)


def raise_error(job: Job) -> None:
    """The job's error, as the popup a page shows (escaped: it may echo what the user typed)."""
    if job.error:
        raise gr.Error(html.escape(said_error(job.error)), print_exception=False)
