"""The models a page may choose from, for the CAM tab (classifiers) and the GAN tab (generators).

A dropdown key says where a model comes from and never holds a path a user typed:

    "shipped:<file>"   a checkpoint of the project's checkpoints/ folder
    "run:<name>"       trained on this page (ui.sessions), by its run's name
    "upload:<file>"    uploaded on this page, kept in the session's folder

Loaded models are cached by (path, mtime, size) for the whole server: thirty pages opening the
shipped model wait for one load and share one copy (models are only used in eval mode under
no_grad, so threads may share them); a re-saved file is loaded afresh.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from cnnzoo import checkpoints
from cnnzoo.cache import KeyedCache
from ui.sessions import Session, keep_upload


def file_key(path: Path) -> tuple:
    """What identifies a file's contents for the cache: its path, modification time and size."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


class ModelLibrary:
    """Shipped, trained-on-this-page and uploaded models of one kind.

    kind          "classifier" or "generator" (checkpoints.shipped filters the shipped folder)
    trained       session -> {run name: checkpoint path} of the models trained on the page
    load          path -> the loaded object (raises ValueError for a file it cannot use)
    uploads       the name of the session subfolder uploads are kept in
    default       the shipped file listed first
    """

    def __init__(self, kind: str, trained: Callable[[Session], dict[str, str]], load: Callable[[Path], object],
                 uploads: str, default: str | None = None, cache: KeyedCache | None = None):
        self.kind, self.trained, self.loader, self.uploads, self.default = kind, trained, load, uploads, default
        self.cache = cache or KeyedCache(max_entries=8)

    def shipped(self) -> list[Path]:
        """The shipped checkpoints of this kind (checkpoints.CHECKPOINT_DIR), the default first."""
        return checkpoints.shipped(self.kind, first=self.default)

    def choices(self, session: Session) -> list[tuple[str, str]]:
        """(label, key) of every model this page may use."""
        choices = [(f"{p.stem} (shipped)", f"shipped:{p.name}") for p in self.shipped()]
        choices += [(f"{name} (trained on this page)", f"run:{name}") for name, path in self.trained(session).items()
                    if Path(path).exists()]
        folder = session.folder / self.uploads
        choices += [(f"{p.name} (uploaded)", f"upload:{p.name}")
                    for p in (sorted(folder.glob("*.safetensors")) if folder.is_dir() else [])]
        return choices

    def path(self, key: str | None, session: Session) -> Path:
        """The checkpoint behind a key, looked up only among what this page may use."""
        source, _, name = (key or "").partition(":")
        path = None
        if source == "shipped":
            path = next((p for p in self.shipped() if p.name == name), None)
        elif source == "run":
            path = Path(self.trained(session)[name]) if name in self.trained(session) else None
        elif source == "upload" and "/" not in name and "\\" not in name and name not in ("", ".", ".."):
            path = session.folder / self.uploads / name
        if path is None or not path.is_file():
            noun = "generator" if self.kind == "generator" else "model"
            raise ValueError(f"no {noun} {key!r} here: choose one from the list ({noun}s trained or uploaded on "
                             f"another page belong to that page).")
        return path

    def load(self, key: str | None, session: Session):
        """The loaded model behind a key (cached for the whole server)."""
        path = self.path(key, session)
        return self.cache.get(file_key(path), lambda: self.loader(path))

    def keep_upload(self, session: Session, upload: str) -> str:
        """Check and keep an uploaded checkpoint for this page; returns its key."""
        return f"upload:{keep_upload(session, upload, self.uploads, self.loader)}"
