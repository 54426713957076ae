"""The model registry: one front door for the UI, the CLI, checkpoints and tests.

    @register_model(family="resnet", paper=PAPER)
    def resnet20(num_classes=10, in_channels=3, shortcut="A", pool="avg"): ...

    create_model("resnet20", num_classes=10)   # -> nn.Module
    list_models()                              # -> ["densenet", ..., "resnet18", "resnet20", ...]
    model_knobs("wide_resnet")                 # -> {"depth": 28, "widen_factor": 10, ...}
    model_info("resnet18_imagenet")            # -> {"input_size": (3, 224, 224), ...}

A builder's keyword arguments *are* its knobs: the UI reads them (and their defaults) from the
signature, so a new model needs no UI code. What the signature cannot say (the input the
architecture was designed for, how its inputs are normalised, the paper) is given to
register_model, like the default cfg of a timm model.
"""
from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

KINDS = ("classifier", "generator", "discriminator")

# "dataset": trained here on our data, normalised with the training set's own mean/std (its
# checkpoint records them). "imagenet": made for torchvision's ImageNet weights, whose mean/std
# cnnzoo.models.resnet.imagenet_normalisation() reads.
NORMALISATIONS = ("dataset", "imagenet")
CIFAR_INPUT = (3, 32, 32)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    family: str
    kind: str  # one of KINDS
    description: str
    # (channels, height, width) the architecture was designed for; for a generator, the images it makes.
    input_size: tuple[int, int, int] = CIFAR_INPUT
    normalisation: str = "dataset"  # one of NORMALISATIONS
    paper: str = ""  # where the architecture comes from, e.g. "He et al. 2016, ... (arXiv:1512.03385)"


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(fn=None, *, family: str | None = None, kind: str = "classifier",
                   input_size: tuple[int, int, int] = CIFAR_INPUT, normalisation: str = "dataset",
                   paper: str = ""):
    """Decorator that adds a builder to the registry under its function name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
    input_size = tuple(input_size)
    if len(input_size) != 3 or not all(isinstance(n, int) and n >= 1 for n in input_size):
        raise ValueError(f"input_size must be (channels, height, width), got {input_size!r}")

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
            input_size=input_size,
            normalisation=normalisation,
            paper=paper,
        )
        return builder

    return add(fn) if fn is not None else add


def _ensure_loaded():
    # Importing the model package runs every @register_model decorator.
    import cnnzoo.models  # noqa: F401


def _natural_key(name: str) -> list:
    """Sorting for humans (timm's key): resnet18 < resnet20 < resnet101, not resnet101 < resnet18."""
    # re.split with a group alternates text and digits, so the lists compare str with str, int with int.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def list_models(kind: str | None = None, family: str | None = None) -> list[str]:
    """Registered names in natural order, optionally only one kind ("classifier", ...) or family."""
    _ensure_loaded()
    return sorted(
        (name for name, entry in _REGISTRY.items()
         if (kind is None or entry.kind == kind) and (family is None or entry.family == family)),
        key=_natural_key,
    )


def get_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Valid names: {', '.join(list_models())}."
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


def model_info(name: str) -> dict[str, object]:
    """What the registry knows about a model, as plain data for the UI, the CLI and tests:

    {"name", "family", "kind", "description", "paper", "input_size": (C, H, W),
     "normalisation": "dataset" | "imagenet", "knobs": {knob: default}}
    """
    entry = get_entry(name)
    return {
        "name": entry.name,
        "family": entry.family,
        "kind": entry.kind,
        "description": entry.description,
        "paper": entry.paper,
        "input_size": entry.input_size,
        "normalisation": entry.normalisation,
        "knobs": model_knobs(name),
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


def seeded_model(name: str, seed: int, **kwargs) -> nn.Module:
    """create_model with torch's random numbers seeded first: the same seed, the same initial
    weights. The trainer builds every model this way, so a checkpoint's recorded seed and knobs
    rebuild the weights its training started from (cnnzoo.checkpoints.initial_model)."""
    torch.manual_seed(seed)
    return create_model(name, **kwargs)
