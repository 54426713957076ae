"""Writing files safely: atomic replacement, values made JSON-ready, fresh names in the temp dir.

Every file cnnzoo writes that someone may read at the same moment (a checkpoint a second
page is loading, a picture the web server is sending) goes through `atomic_write`: the bytes
go to a temporary file in the same directory, and only then is it renamed over the target
(os.replace, atomic on POSIX and Windows). Readers see the old file or the new one, never a
mix; a crash mid-write leaves the old file as it was.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch


def _write_all(file, data) -> None:
    """Write `data` in 16 MB pieces (one place that tests can make fail half-way)."""
    view = memoryview(data)
    for start in range(0, len(view), 1 << 24):
        file.write(view[start:start + (1 << 24)])


def atomic_write(path: str | os.PathLike, data: bytes | str, *, durable: bool = True) -> Path:
    """Write `data` (bytes, or text as UTF-8) to `path` atomically; returns the path.

    durable=True also flushes the bytes and the rename to disk (fsync), so the file survives a
    power cut: for checkpoints and run records. Pictures made for display pass durable=False.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_all(file, data)
            if durable:
                file.flush()
                os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a saved file reads like any other
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_directory(path.parent)  # make the rename itself survive a power cut
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; its rename is already durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_ready(value, where: str = "the value"):
    """`value` as JSON can hold it: tuples -> lists, numbers from tensors or numpy -> Python numbers,
    NaN and infinity -> None (JSON has neither; other readers would choke); anything else -> ValueError."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-string key {key!r}; JSON keys are strings")
            out[key] = json_ready(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [json_ready(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    raise ValueError(f"{where} is a {type(value).__name__}; it must be JSON "
                     f"(dicts, lists, strings, numbers, booleans, None)")


def temp_path(prefix: str, suffix: str) -> Path:
    """A fresh file name under the system temp dir (where Gradio may serve files from)."""
    folder = Path(tempfile.gettempdir()) / "cnnzoo"
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)
