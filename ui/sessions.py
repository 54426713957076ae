"""Per-user state on the server: what one browser session created, and nobody else's.

A class of thirty opens the same Space at once. Whatever a user creates (runs, trained models,
uploads, a Stop) lives here under that user's `request.session_hash`, in a folder of its own,
and is removed when the page is closed (`demo.unload`) or after a day unused. gr.State would
deep-copy big objects on every event, so models and runs stay in this server-side dict.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

IDLE_TTL_S = 24 * 3600
_ROOT = Path(tempfile.gettempdir()) / "cnnzoo-sessions"


@dataclass
class Run:
    """One training run of a session: its settings, curves and files."""

    name: str
    config: dict
    history: list = field(default_factory=list)
    checkpoint: str | None = None
    csv: str | None = None
    status: str = "running"  # running | done | stopped | time_limit | nan | error


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

    def begin_training(self) -> bool:
        """Claim this session's one training slot; False if a run is already in progress."""
        with self._busy_lock:
            if self.busy:
                return False
            self.busy = True
            self.stop.clear()
            return True

    def end_training(self) -> None:
        with self._busy_lock:
            self.busy = False
            self.stop.clear()

    def new_run_dir(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def unique_run_name(self, base: str) -> str:
        n = 1
        while f"{base} #{n}" in self.runs:
            n += 1
        return f"{base} #{n}"


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


def _expire_idle() -> None:
    now = time.time()
    for key in [k for k, s in _sessions.items() if now - s.last_used > IDLE_TTL_S and not s.busy]:
        session = _sessions.pop(key)
        shutil.rmtree(session.folder, ignore_errors=True)


def session_count() -> int:
    with _lock:
        return len(_sessions)
