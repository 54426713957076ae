"""Per-user state on the server: what one browser session created, and nobody else's.

A class of thirty opens the same Space at once. Whatever a user creates (runs, trained models,
uploads, a Stop) lives here under that user's `request.session_hash`, in a folder of its own,
and is removed when the page is closed (`demo.unload`) or after a day unused.

Why a server-side registry and not gr.State: the tabs share it. A model trained in the Train
tab appears in the CAM tab's list, a GAN trained on the page in the GAN tab's generator list,
and one Stop button stops whichever training the page runs; gr.State belongs to one tab's
events. Values that only one tab's events use (the CAM tab's last maps) stay in gr.State.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gradio as gr

IDLE_TTL_S = 24 * 3600
_ROOT = Path(tempfile.gettempdir()) / "cnnzoo-sessions"


@dataclass
class Run:
    """One classifier training run of a session: its settings, curves and files."""

    name: str
    config: dict
    history: list = field(default_factory=list)
    checkpoint: str | None = None
    files: dict = field(default_factory=dict)  # role -> path, from the trainer's end event
    status: str = "running"  # running | done | stopped | time_limit | nan | error

    def update(self, event) -> None:
        """Follow the trainer's event: its history so far, and at the end its status and files."""
        self.history = event.history
        if event.kind == "end":
            self.status = event.reason
            self.checkpoint = event.checkpoint or self.checkpoint
            self.files = dict(event.files or {})


@dataclass
class Session:
    key: str
    folder: Path
    runs: dict[str, Run] = field(default_factory=dict)
    generators: dict[str, str] = field(default_factory=dict)  # GAN tab: run name -> generator checkpoint
    stop: threading.Event = field(default_factory=threading.Event)
    busy: bool = False  # a training run of this session is in progress
    last_used: float = field(default_factory=time.time)
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def training(self):
        """Hold this session's one training slot (shared by the Train and GAN tabs) for the block;
        a gr.Error if a run of this page is already in progress. A fresh Stop for every run."""
        with self._busy_lock:
            if self.busy:
                raise gr.Error("This page is already training (here or in another tab): press Stop first, or wait.")
            self.busy = True
            self.stop.clear()
        try:
            yield self.stop
        finally:
            with self._busy_lock:
                self.busy = False
                self.stop.clear()

    def new_run_dir(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def subfolder(self, name: str) -> Path:
        """A folder of this session for one tab's files (uploads, pictures shown on the page)."""
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def unique_name(base: str, taken) -> str:
    """'base #1', or the first 'base #n' not in `taken`: the names of runs and generators."""
    n = 1
    while f"{base} #{n}" in taken:
        n += 1
    return f"{base} #{n}"


def keep_upload(session: Session, upload: str, folder: str, check: Callable[[Path], object]) -> str:
    """Keep an uploaded .safetensors file for this session only, if `check(path)` accepts it.

    The name is made safe (no folders, no leading dot) and the file is copied under the session's
    `folder`; `check` raises ValueError for a file it cannot use, and then nothing is kept.
    Returns the kept file's name.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload).name).lstrip(".") or "checkpoint"
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    target = session.subfolder(folder) / name
    tmp = target.with_name(f".{name}.tmp")
    shutil.copyfile(upload, tmp)
    try:
        check(tmp)  # refuse a bad file before it joins the list
    except ValueError as error:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{name}: {error}") from error
    except Exception as error:  # a file that is not a checkpoint at all (truncated, random bytes)
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{name} could not be read as a cnnzoo checkpoint ({type(error).__name__}); upload a "
                         f".safetensors file saved by cnnzoo (the Train or GAN tab's download).") from error
    os.replace(tmp, target)
    return name


_sessions: dict[str, Session] = {}
_lock = threading.Lock()


def session_for(request: gr.Request | None) -> Session:
    """The caller's session (created on first use). API calls without a session share "api"."""
    key = (request.session_hash if request is not None else None) or "api"
    with _lock:
        _expire_idle()
        session = _sessions.get(key)
        if session is None:
            folder = _ROOT / f"s-{abs(hash(key)) % 10**12}-{int(time.time() * 1000)}"
            folder.mkdir(parents=True, exist_ok=True)
            session = _sessions[key] = Session(key=key, folder=folder)
        session.last_used = time.time()
        return session


def end_session(request: gr.Request) -> None:
    """demo.unload handler: stop the user's training and delete their files."""
    with _lock:
        session = _sessions.pop(request.session_hash, None)
    if session is not None:
        session.stop.set()
        shutil.rmtree(session.folder, ignore_errors=True)


def stop_training(request: gr.Request = None) -> str:
    """Ask this page's training run (Train or GAN tab) to stop: it finishes the step in flight and
    keeps a checkpoint that Resume continues."""
    session = session_for(request)
    if not session.busy:
        return "Nothing is training in this session."
    session.stop.set()
    return "Stopping after the current step…"


def _expire_idle() -> None:
    now = time.time()
    for key in [k for k, s in _sessions.items() if now - s.last_used > IDLE_TTL_S and not s.busy]:
        session = _sessions.pop(key)
        shutil.rmtree(session.folder, ignore_errors=True)
