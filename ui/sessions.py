"""Per-user state on the server: what one browser created, and nobody else's.

A class of thirty opens the same Space at once. Whatever a student creates (runs, trained
models, uploads, a Stop) lives here in a Session, in a folder of its own. A session belongs to
the browser, not to one page load: a random key kept in the browser's localStorage (made there
with crypto.getRandomValues on the first visit) names it, and every page load joins it
(`attach_page`, a demo.load handler; `page_load` registers it). Gradio ends a page's session_hash whenever the page's heartbeat drops — a
reload, a closed laptop lid, a Wi-Fi blip — so that is only a page leaving (`detach_page`): the
session, and a run it is training (ui.jobs), go on, and a page that comes back finds them. A
session no page has come back to for GRACE_S is removed, files and all; so is one unused for a
day. Clients without a browser (gradio_client) have no stored key: their session_hash names
their session.

Why a server-side registry and not gr.State: the tabs share it. A model trained in the Train
tab appears in the CAM tab's list, a GAN trained on the page in the GAN tab's generator list,
and one Stop button stops whichever training the page runs; gr.State belongs to one tab's
events. Values that only one tab's events use (the CAM tab's last maps) stay in gr.State.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gradio as gr

from ui.i18n import say
from ui.jobs import Job, queue_job

IDLE_TTL_S = 24 * 3600
GRACE_S = float(os.environ.get("CNNZOO_GRACE_MINUTES", 15)) * 60  # after the last page left
# Where sessions keep their files: CNNZOO_STORAGE (e.g. a Space's mounted storage bucket), else /tmp
_ROOT = Path(os.environ.get("CNNZOO_STORAGE") or tempfile.gettempdir()) / "cnnzoo-sessions"
# On a classroom's shared PCs (CNNZOO_SHARED_PCS=1) the key lives in the tab's sessionStorage, not
# localStorage: a reload, a closed lid or a Wi-Fi blip still keeps a student's work, but the next
# student at that PC, in a new tab or browser, does not find it.
_STORAGE = "sessionStorage" if os.environ.get("CNNZOO_SHARED_PCS") == "1" else "localStorage"
_KEY = re.compile(r"[A-Za-z0-9_-]{32}")


def identity_js(storage: str) -> str:
    """Runs in the browser before attach_page: its key from `storage` (localStorage or
    sessionStorage), or a new one of 24 random bytes (base64url, 32 characters). It runs whether or
    not the tab holding the event is shown, which a component's own storage (gr.BrowserState) does
    not: hidden tabs are not mounted."""
    return """() => {
  let key = STORAGE.getItem("cnnzoo-identity");
  if (!key || !/^[A-Za-z0-9_-]{32}$/.test(key)) {
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    key = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
    STORAGE.setItem("cnnzoo-identity", key);
  }
  return [key];
}""".replace("STORAGE", storage)


IDENTITY_JS = identity_js(_STORAGE)


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
    forms: dict[str, dict] = field(default_factory=dict)  # a tab's form as Train was last pressed (restore_form)
    stop: threading.Event = field(default_factory=threading.Event)
    job: Job | None = None  # the session's training job (ui.jobs): running, or the last one
    side_jobs: dict = field(default_factory=dict)  # kind -> the latest experiment job (ui.jobs.stream_job)
    pages: set = field(default_factory=set)  # session_hash of every page load showing it now
    detached_at: float | None = None  # when its last page left
    last_used: float = field(default_factory=time.time)
    _job_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def busy(self) -> bool:
        """A training job of this session is running (or waiting for a slot)."""
        return self.job is not None and not self.job.done

    def start_job(self, kind: str, work, needs_slot: bool = True) -> Job:
        """Start this session's one training job (shared by the Train and GAN tabs), with a fresh
        Stop; a gr.Error while one runs. A replay needs no training slot (needs_slot=False)."""
        with self._job_lock:
            if self.busy:
                raise gr.Error(say("This page is already training (here or in another tab): press Stop first, or wait."))
            self.stop.clear()
            self.job = queue_job(Job(kind, work, needs_slot))
            return self.job

    def start_side_job(self, kind: str, work, needs_slot: bool = True) -> Job:
        """Start this session's `kind` job of the Experiments tab (one of each kind at a time, beside
        its training); a gr.Error while one of that kind runs."""
        with self._job_lock:
            self.refuse_a_second(kind)
            self.side_jobs[kind] = job = queue_job(Job(kind, work, needs_slot))
            return job

    def refuse_a_second(self, kind: str) -> None:
        """A gr.Error while this session's `kind` job runs (checked again when one starts)."""
        running = self.side_jobs.get(kind)
        if running is not None and not running.done:
            raise gr.Error(say("This experiment is already running on this page (here or in another tab): "
                               "press its Stop first, or wait."))

    @property
    def computing(self) -> bool:
        """Anything of this session is running: its training job or an experiment."""
        return self.busy or any(not job.done for job in self.side_jobs.values())

    def subfolder(self, name: str) -> Path:
        """A folder of this session: a run's, or one tab's files (uploads, pictures on the page)."""
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
_pages: dict[str, str] = {}  # a page load's session_hash -> its browser's key
_lock = threading.Lock()


def attach_page(key, request: gr.Request) -> str:
    """demo.load handler: this page joins the session of its browser's key (IDENTITY_JS). A key that
    is not one of ours (a tampered localStorage) gets the page a session of its own."""
    with _lock:
        if not (isinstance(key, str) and _KEY.fullmatch(key)):
            key = _pages.get(request.session_hash) or secrets.token_urlsafe(24)
        _pages[request.session_hash] = key
        session = _session(key)
        session.pages.add(request.session_hash)
        session.detached_at = None
    return key


def page_load(demo: gr.Blocks):
    """Register attach_page on the tab's load, and return that event: a tab's other load events
    follow it (`page_load(demo).then(...)`), so they already see the browser's session."""
    key = gr.Textbox(visible=False)  # carries the key IDENTITY_JS returns

    def attach(key, request: gr.Request) -> None:  # no output: gradio would warn of the key, every load
        attach_page(key, request)

    return demo.load(attach, key, None, js=IDENTITY_JS, api_visibility="private", concurrency_limit=None)


# Puts a saved form's values into its fields in the browser; fields it does not hold keep theirs.
FILL_JS = """(saved, ...current) => saved ? NAMES.map((name, i) => name in saved ? saved[name] : current[i]) : current"""


def restore_form(loaded, tab: str, fields: dict) -> object:
    """After `loaded` (a tab's page_load event): the form `tab`'s Train was last pressed with in
    this browser (Session.forms[tab]) back in its `fields` (name -> component), so a reload or a
    closed lid loses no student's settings. Returns the event that filled them.

    The values go through a hidden JSON and are put in place in the browser (FILL_JS): an event
    of the server that outputs to the fields would take over their status, and gradio would then
    drop the message a validator puts on a field (measured: the Train and GAN tabs' refused-input
    messages never showed)."""
    saved = gr.JSON(visible=False)

    def fetch(request: gr.Request):
        return session_for(request).forms.get(tab)

    fetched = loaded.then(fetch, None, saved, api_visibility="private", show_progress="hidden", concurrency_limit=None)
    return fetched.then(None, [saved, *fields.values()], list(fields.values()), api_visibility="private",
                        js=FILL_JS.replace("NAMES", json.dumps(list(fields))))


def session_for(request: gr.Request | None) -> Session:
    """The caller's session (created on first use): its browser's, else its page's; API calls
    without a session share "api"."""
    page = request.session_hash if request is not None else None
    with _lock:
        _expire_idle()
        return _session(_pages.get(page, page) or "api")


def _session(key: str) -> Session:  # with _lock held
    session = _sessions.get(key)
    if session is None:
        folder = _ROOT / f"s-{secrets.token_hex(6)}-{int(time.time() * 1000)}"
        folder.mkdir(parents=True, exist_ok=True)
        session = _sessions[key] = Session(key=key, folder=folder)
    session.last_used = time.time()
    return session


def detach_page(request: gr.Request) -> None:
    """demo.unload handler: the page went away (closed, reloaded, or its connection dropped). Its
    session, and the run it may be training, go on; GRACE_S after its last page left, a session no
    page came back to is removed (see _expire_idle)."""
    with _lock:
        key = _pages.pop(request.session_hash, request.session_hash)
        session = _sessions.get(key)
        if session is not None:
            session.pages.discard(request.session_hash)
            if not session.pages:
                session.detached_at = time.time()


def stop_training(request: gr.Request = None) -> str:
    """Ask this page's training run (Train or GAN tab) to stop: it finishes the step in flight and
    keeps a checkpoint that Resume continues."""
    session = session_for(request)
    if not session.busy:
        return say("Nothing is training in this session.")
    session.stop.set()
    return say("Stopping after the current step…")


def _expire_idle() -> None:  # with _lock held
    now = time.time()
    for key, session in list(_sessions.items()):
        left = session.detached_at is not None and now - session.detached_at > GRACE_S
        if not session.computing and (left or now - session.last_used > IDLE_TTL_S):
            del _sessions[key]
            shutil.rmtree(session.folder, ignore_errors=True)


class PageStops:
    """A Stop for each page's long request that is not a training job (an experiment streaming in
    its own request): start() gives the page a fresh Event for the request to check, stop() sets
    the page's current one, done() forgets it when the request ends. One page never stops another."""

    def __init__(self):
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def start(self, session: Session) -> threading.Event:
        with self._lock:
            stop = self._stops[session.key] = threading.Event()
        return stop

    def done(self, session: Session, stop: threading.Event) -> None:
        with self._lock:
            if self._stops.get(session.key) is stop:
                del self._stops[session.key]

    def stop(self, session: Session) -> bool:
        """Stop the page's request; False when nothing of it is running."""
        with self._lock:
            stop = self._stops.get(session.key)
        if stop is not None:
            stop.set()
        return stop is not None
