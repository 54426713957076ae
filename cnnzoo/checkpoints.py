"""Checkpoints: weights plus everything needed to rebuild and use the model, in safe formats.

A model checkpoint is one safetensors file: the tensors of the state dict, and in its
str -> str header metadata one JSON document under the key "cnnzoo":

    {"model": "resnet20", "knobs": {"num_classes": 10, ...},   # create_model(model, **knobs)
     "class_names": [...], "mean": [...], "std": [...], "input_size": [3, 32, 32],
     "dataset": "shapes", "metrics": {...}, "epoch": 30,
     "date": "2025-...Z", "code_version": "0.1.0+abc1234", "format_version": 1, "tied": {...}}

    save_checkpoint("runs/r20.safetensors", model, meta)
    model, meta = load_checkpoint("runs/r20.safetensors")    # rebuilt from the metadata alone

Loading never unpickles anything: safetensors holds raw tensor bytes and JSON. The training
state for resuming (optimizer, scheduler, RNG, curves) is a torch.save of plain tensors and
primitives, loaded with weights_only=True, which refuses everything else.

Every write is atomic and durable (cnnzoo.files.atomic_write): a crash mid-save leaves the
previous file as it was.
"""
from __future__ import annotations

import datetime
import functools
import io
import json
import os
import struct
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from cnnzoo.cache import KeyedCache
from cnnzoo.files import atomic_write, json_ready
from cnnzoo.registry import create_model, get_entry, seeded_model

FORMAT = "cnnzoo-checkpoint"
FORMAT_VERSION = 1
META_KEY = "cnnzoo"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"  # what the project ships


# ----------------------------------------------------------------------------------------
# Model checkpoints
# ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """cnnzoo.__version__, plus "+<commit>" when the package sits in a git checkout."""
    import cnnzoo

    version = cnnzoo.__version__
    commit = _git_commit(Path(__file__).resolve().parent.parent)
    return f"{version}+{commit[:7]}" if commit else version


def _git_commit(repo: Path) -> str | None:
    # Read .git directly: no subprocess, no git binary needed, nothing if it is not a checkout.
    try:
        head = (repo / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        ref_file = repo / ".git" / ref
        if ref_file.is_file():
            return ref_file.read_text().strip()
        for line in (repo / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except (OSError, UnicodeDecodeError):
        pass
    return None


def _unwrap(model: nn.Module) -> nn.Module:
    # torch.compile wraps the model; its state dict keys gain "_orig_mod." otherwise.
    return getattr(model, "_orig_mod", model)


def _tensors_for_saving(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors to write, tied) where tied maps a duplicate name to the name that is saved.

    safetensors stores each tensor's bytes once and refuses tensors that share memory.
    Tied weights (the same tensor under two names) are saved once and recorded in `tied`;
    other overlaps and non-contiguous tensors (channels_last, views) are saved as copies.
    """
    tensors, tied, seen, storages = {}, {}, {}, set()
    for name, tensor in state.items():
        tensor = tensor.detach()
        identity = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
                    tuple(tensor.shape), tensor.stride(), tensor.dtype)
        if tensor.numel() and identity in seen:
            tied[name] = seen[identity]
            continue
        seen[identity] = name
        storage = (tensor.device, tensor.untyped_storage().data_ptr())
        shares = tensor.numel() and storage in storages
        storages.add(storage)
        tensor = tensor.to("cpu").contiguous()
        if shares or tensor.untyped_storage().nbytes() != tensor.numel() * tensor.element_size():
            tensor = tensor.clone()  # a view of a bigger buffer: save only its own bytes
        tensors[name] = tensor
    return tensors, tied


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict) -> Path:
    """Write the model's weights and `meta` atomically to `path` (a .safetensors file).

    meta must hold "model" (a registry name) and "knobs" (the keyword arguments of
    create_model) so that load_checkpoint can rebuild the network; the weights are checked
    against that architecture before anything is written. The date, code version and format
    version are added. Other keys (class_names, mean, std, input_size, dataset, metrics,
    epoch, ...) must be JSON-serialisable.
    """
    meta = json_ready(dict(meta), "meta")
    if not isinstance(meta.get("model"), str) or not isinstance(meta.get("knobs", {}), dict):
        raise ValueError('meta needs "model" (a registry name) and "knobs" (a dict of create_model arguments)')
    meta.setdefault("knobs", {})
    model = _unwrap(model)
    tensors, tied = _tensors_for_saving(model.state_dict())
    _check_architecture(meta, {name: tuple(t.shape) for name, t in tensors.items()}, set(tied), where="the model")
    meta.update(
        date=meta.get("date") or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        code_version=code_version(),
        format_version=FORMAT_VERSION,
        tied=tied,
    )
    data = save(tensors, metadata={"format": FORMAT, META_KEY: json.dumps(meta)})
    return atomic_write(path, data)


def _expected_shapes(meta: dict) -> dict[str, tuple[int, ...]] | None:
    """Parameter and buffer shapes of create_model(meta) built on the "meta" device (no memory)."""
    try:
        with torch.device("meta"):
            reference = create_model(meta["model"], **meta["knobs"])
    except ValueError as error:  # unknown model or knob: the user's file names something we lack
        raise ValueError(f"this checkpoint's architecture cannot be built: {error}") from error
    except (NotImplementedError, RuntimeError):  # a builder that needs real tensors: check at load
        return None
    return {name: tuple(t.shape) for name, t in reference.state_dict().items()}


def _check_architecture(meta: dict, shapes: dict[str, tuple], tied: set[str], where: str) -> None:
    expected = _expected_shapes(meta)
    if expected is None:
        return
    missing = sorted(set(expected) - set(shapes) - tied)
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(n for n in set(expected) & set(shapes) if expected[n] != shapes[n])
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        if wrong:
            shown = [f"{n} {list(shapes[n])} (expected {list(expected[n])})" for n in wrong]
            parts.append("wrong shapes " + _few(shown))
        knobs = ", ".join(f"{k}={v!r}" for k, v in meta["knobs"].items())
        raise ValueError(f"the weights in {where} do not fit {meta['model']}({knobs}): {'; '.join(parts)}.")


def _few(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _read_header(path: Path) -> tuple[dict, int]:
    """The safetensors JSON header of `path` (validated) and where the tensor bytes start.

    safetensors.safe_open(path).metadata() reads the same header, but its errors ("header too
    small", "incomplete metadata") do not tell a student what went wrong; these say whether the
    file is empty, something else entirely, or cut short by a download, and what to do.
    """
    if not path.is_file():
        raise ValueError(f"no checkpoint file at {path}")
    size = path.stat().st_size
    not_ours = (f"{path.name} is not a cnnzoo checkpoint (a .safetensors file saved by cnnzoo); "
                f"train a model or pick one of the shipped checkpoints")
    if size < 8:
        raise ValueError(f"{not_ours}: it is {'empty' if size == 0 else f'only {size} bytes'}.")
    with open(path, "rb") as file:
        (header_len,) = struct.unpack("<Q", file.read(8))
        if not 2 <= header_len <= min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"{not_ours}: it does not start with a safetensors header.")
        raw = file.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{not_ours}: its header is not valid JSON.") from None
    if not isinstance(header, dict):
        raise ValueError(f"{not_ours}: its header is not a safetensors header.")
    data_start = 8 + header_len
    end = max((entry["data_offsets"][1] for key, entry in header.items()
               if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry), default=0)
    if data_start + end > size:
        raise ValueError(f"{path.name} is truncated: it has {size:,} bytes but its header describes "
                         f"{data_start + end:,}. The copy or download was cut short; fetch it again.")
    return header, data_start


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The metadata of a checkpoint, without reading its weights."""
    path = Path(path)
    header, _ = _read_header(path)
    metadata = header.get("__metadata__") or {}
    if META_KEY not in metadata:
        raise ValueError(f"{path.name} is a safetensors file but not a cnnzoo checkpoint: it has no "
                         f'"{META_KEY}" metadata saying which model it holds. Save it with cnnzoo.checkpoints.save_checkpoint.')
    try:
        meta = json.loads(metadata[META_KEY])
    except json.JSONDecodeError:
        raise ValueError(f"{path.name}: its cnnzoo metadata is not valid JSON.") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str) or not isinstance(meta.get("knobs"), dict):
        raise ValueError(f'{path.name}: its metadata lacks "model" and "knobs", so the model cannot be rebuilt.')
    if meta.get("format_version", 1) > FORMAT_VERSION:
        raise ValueError(f"{path.name} was written by a newer cnnzoo (checkpoint format "
                         f"{meta['format_version']}, this one reads {FORMAT_VERSION}); update cnnzoo.")
    return meta


def load_checkpoint(path: str | os.PathLike, device="cpu", kind: str | None = None) -> tuple[nn.Module, dict]:
    """(model in eval mode on `device`, meta): the network is rebuilt with
    create_model(meta["model"], **meta["knobs"]) and its weights loaded strictly.

    kind: "classifier", "generator" or "discriminator" to refuse, with a message saying what
    the file holds instead, a checkpoint of another kind (checked from the header alone).
    """
    path = Path(path)
    meta = read_checkpoint_meta(path)
    if kind is not None:
        check_kind(meta, kind, path.name)
    try:
        state = load_file(path)
    except SafetensorError as error:
        raise ValueError(f"{path.name} is damaged and cannot be read ({error}); fetch it again.") from error
    tied = meta.get("tied") or {}
    _check_architecture(meta, {name: tuple(t.shape) for name, t in state.items()}, set(tied), where=path.name)
    for alias, name in tied.items():
        if name not in state:
            raise ValueError(f"{path.name}: the tied weight {alias} points at {name}, which is not in the file.")
        state[alias] = state[name]
    try:
        model = create_model(meta["model"], **meta["knobs"])
    except ValueError as error:
        raise ValueError(f"this checkpoint's architecture cannot be built: {error}") from error
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # only reached when the meta-device check could not run
        raise ValueError(f"the weights in {path.name} do not fit {meta['model']}: {error}") from error
    return model.to(device).eval(), meta


def initial_model(meta: dict) -> nn.Module:
    """The network a checkpoint's training started from, in eval mode: rebuilt with the seed and
    knobs its metadata records (the trainer builds every model with registry.seeded_model), so
    plain-vs-residual experiments can compare the weights before and after training. The global
    random state is left as it was. ValueError when the checkpoint does not record its seed."""
    seed = (meta.get("train_config") or {}).get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"this checkpoint of {meta.get('model', 'a model')} does not record the seed it was "
                         f"trained with (meta['train_config']['seed']), so its initial weights cannot be "
                         f"rebuilt: train it with cnnzoo's trainer, which records it.")
    with torch.random.fork_rng(devices=[]):
        return seeded_model(meta["model"], seed, **meta["knobs"]).eval()


KIND_EXAMPLES = {
    "classifier": "a classifier from the Train tab or `python -m train.classifier` (e.g. resnet20-digits)",
    "generator": "a GAN generator from the GAN tab or `python -m train.gan` (e.g. dcgan-digits)",
    "discriminator": "a GAN discriminator (discriminator.safetensors of a GAN run)",
}


def checkpoint_kind(meta: dict) -> str:
    """What the checkpoint holds: "classifier", "generator" or "discriminator" (its registry kind)."""
    try:
        return get_entry(meta["model"]).kind
    except ValueError as error:  # a model this version of cnnzoo does not have
        raise ValueError(f"this checkpoint's architecture cannot be built: {error}") from error


def check_kind(meta: dict, kind: str, name: str = "this checkpoint") -> None:
    """ValueError, saying what the file holds and what to use instead, unless it holds a `kind`."""
    found = checkpoint_kind(meta)
    if found != kind:
        raise ValueError(f"{name} holds a {found} ({meta['model']}), not a {kind}; use {KIND_EXAMPLES[kind]}.")


def shipped(kind: str | None = None, dataset: str | None = None, folder: str | os.PathLike | None = None,
            first: str | None = None) -> list[Path]:
    """The checkpoints in `folder` (default: CHECKPOINT_DIR, the shipped checkpoints/) of a kind and
    trained on a dataset, by name, `first` (a file name) first. Only headers are read; files that
    are not cnnzoo checkpoints, or name a model this version lacks, are left out."""
    folder = Path(CHECKPOINT_DIR if folder is None else folder)
    found = []
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        listed = _listing(path)
        if listed is not None and kind in (None, listed[0]) and dataset in (None, listed[1]):
            found.append(path)
    return sorted(found, key=lambda p: p.name != first)


# What shipped() needs of a file, read once per version of it: the app lists the shipped
# checkpoints at every click of a class (reading each header again was ~7% of its CPU).
_listed: KeyedCache[tuple | None] = KeyedCache(max_entries=256)


def _listing(path: Path) -> tuple[str, str | None] | None:
    """(kind, dataset) of a checkpoint file, None for a file that is not a cnnzoo checkpoint."""
    def read():
        try:
            meta = read_checkpoint_meta(path)
            return checkpoint_kind(meta), meta.get("dataset")
        except ValueError:
            return None

    stat = path.stat()
    return _listed.get((str(path), stat.st_mtime_ns, stat.st_size), read)


# ----------------------------------------------------------------------------------------
# Training state (resume)
# ----------------------------------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.Size, torch.dtype, torch.device)


def _check_plain(value, where: str = "state") -> None:
    """Refuse, at save time, what weights_only loading would refuse later."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise ValueError(f"{where} has a key of type {type(key).__name__}; use strings or numbers")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        hint = " (convert numpy arrays with torch.from_numpy)" if type(value).__module__ == "numpy" else ""
        raise ValueError(f"{where} is a {type(value).__name__}; the training state may only hold tensors, "
                         f"numbers, strings, None and lists/tuples/dicts of them{hint}")


def save_training_state(path: str | os.PathLike, state: dict) -> Path:
    """Atomically torch.save `state` (optimizer/scheduler state dicts, RNG states, curves...)."""
    if not isinstance(state, dict):
        raise ValueError(f"the training state must be a dict, got {type(state).__name__}")
    _check_plain(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, buffer.getbuffer())


def load_training_state(path: str | os.PathLike) -> dict:
    """The dict save_training_state wrote, on CPU; nothing but tensors and primitives is loaded."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no training state at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and weights_only errors come in many types
        raise ValueError(f"{path.name} is not a readable cnnzoo training state ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}).") from error
    if not isinstance(state, dict):
        raise ValueError(f"{path.name} is not a cnnzoo training state (it holds a {type(state).__name__}).")
    return state
