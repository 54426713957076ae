"""The model registry: one front door for the UI, the CLI, checkpoints and tests.

    @register_model(family="resnet")
    def resnet20(num_classes=10, in_channels=3, shortcut="A", pool="avg"): ...

    create_model("resnet20", num_classes=10)   # -> nn.Module
    list_models()                              # -> ["densenet121", ...]
    model_knobs("wide_resnet")                 # -> {"depth": 28, "widen_factor": 10, ...}

A builder's keyword arguments *are* its knobs: the UI reads them (and their defaults) from the
signature, so a new model needs no UI code.
"""
from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

KINDS = ("classifier", "generator", "discriminator")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    family: str
    kind: str  # one of KINDS
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(fn=None, *, family: str | None = None, kind: str = "classifier"):
    """Decorator that adds a builder to the registry under its function name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def add(builder):
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        doc = inspect.getdoc(builder) or ""
        _REGISTRY[name] = ModelEntry(
            name=name,
            builder=builder,
            family=family or builder.__module__.rsplit(".", 1)[-1],
            kind=kind,
            description=doc.split("\n\n")[0].replace("\n", " "),
        )
        return builder

    return add(fn) if fn is not None else add


def _ensure_loaded():
    # Importing the model package runs every @register_model decorator.
    import cnnzoo.models  # noqa: F401


def list_models(kind: str | None = None, family: str | None = None) -> list[str]:
    """Sorted registered names, optionally only one kind ("classifier", ...) or family."""
    _ensure_loaded()
    return sorted(
        name
        for name, entry in _REGISTRY.items()
        if (kind is None or entry.kind == kind) and (family is None or entry.family == family)
    )


def get_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Valid names: {', '.join(sorted(_REGISTRY))}."
        )
    return _REGISTRY[name]


def model_knobs(name: str) -> dict[str, object]:
    """The builder's keyword arguments and their defaults, e.g. {"depth": 28, ...}."""
    params = inspect.signature(get_entry(name).builder).parameters
    return {
        p.name: p.default
        for p in params.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
    }


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model. Unknown names or knobs raise ValueError listing what is valid."""
    entry = get_entry(name)
    knobs = model_knobs(name)
    unknown = sorted(set(kwargs) - set(knobs))
    if unknown:
        raise ValueError(
            f"{name} has no knob {', '.join(map(repr, unknown))}; "
            f"its knobs are: {', '.join(knobs) or 'none'}."
        )
    return entry.builder(**kwargs)
