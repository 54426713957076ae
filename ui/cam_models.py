"""The CAM tab's models: shipped, trained on this page, uploaded, or torchvision's ImageNet ResNets.

Each is loaded once for the whole server (ui.library's cache) as a CamModel: the network plus
what the tab needs to feed it (input size, normalisation) and to label what it shows (class
names, the dataset it knows, its default box threshold, its test accuracy).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import torch
import torch.nn as nn

from cnnzoo.cache import KeyedCache
from cnnzoo.cam import PAPER_THRESHOLD, cam_method
from cnnzoo.checkpoints import load_checkpoint, read_checkpoint_meta
from cnnzoo.data import dataset_info, load_dataset
from cnnzoo.models.resnet import (
    IMAGENET_LAYOUTS, imagenet_class_names, imagenet_normalisation, imagenet_weights_path, load_imagenet_weights,
)  # fmt: skip
from cnnzoo.registry import create_model, model_info
from cnnzoo.viz import save_png
from ui.library import ModelLibrary, file_key
from ui.sessions import Session, session_for

DEFAULT_CHECKPOINT = "simple-shapes-cam.safetensors"
# Measured on 8×8 maps of 32×32 shapes: boxes at the paper's 0.2 were ~2.3× too large, 0.5 was
# near the best. Pictures the size the paper used (ImageNet, 224 px) keep the paper's 0.2.
# A checkpoint can carry its own measured best as meta["cam_threshold"].
SMALL_IMAGE_THRESHOLD = 0.5
EXAMPLES_DIR = Path(tempfile.gettempdir()) / "cnnzoo-cam-examples"  # shared by all sessions, read-only
MODEL_CACHE_BYTES = 800_000_000  # ImageNet ResNet-152 is 240 MB; the small nets are ~1 MB


@dataclass(frozen=True)
class CamModel:
    """A classifier ready for CAM, with what the tab needs to feed it and to label its output."""

    model: nn.Module
    name: str  # registry name
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: tuple[int, int, int]  # (C, H, W)
    dataset: str | None  # the dataset it was trained on, for examples and localisation
    dataset_size: int | None  # image_size for load_dataset (None: the dataset's native size)
    feature_shape: tuple[int, int, int]  # (C, h, w) of forward_features: the map CAM reads
    method: str  # "CAM" or "Grad-CAM"
    default_threshold: float
    test_accuracy: float | None
    nbytes: int


def load_cam_model(path: Path) -> CamModel:
    """A classifier checkpoint ready for CAM; ValueError saying what is wrong with other files."""
    model, meta = load_checkpoint(path, kind="classifier")
    input_size = tuple(meta.get("input_size") or ())
    if len(input_size) != 3:
        raise ValueError(f"{path.name} does not say which input size its model takes (meta['input_size']); "
                         f"save it with cnnzoo's trainer, which records it.")
    channels, dataset, dataset_size = input_size[0], meta.get("dataset"), None
    if dataset and dataset != "folder":
        try:
            native = dataset_info(dataset)["size"]
        except ValueError:
            dataset = None  # a name this cnnzoo does not know: no examples, no localisation
        else:
            dataset_size = None if input_size[-1] == native else input_size[-1]
    num_classes = model.head.fc.out_features if hasattr(getattr(model, "head", None), "fc") else None
    threshold = meta.get("cam_threshold")
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        threshold = SMALL_IMAGE_THRESHOLD if input_size[-1] < 100 else PAPER_THRESHOLD
    accuracy = (meta.get("metrics") or {}).get("test_acc")
    return describe(model, name=meta["model"], class_names=meta.get("class_names") or [str(i) for i in range(num_classes or 0)],
                    mean=meta.get("mean") or [0.5] * channels, std=meta.get("std") or [0.25] * channels,
                    input_size=input_size, dataset=dataset, dataset_size=dataset_size, default_threshold=float(threshold),
                    test_accuracy=accuracy if isinstance(accuracy, (int, float)) else None)


def load_imagenet_model(depth: int) -> CamModel:
    name = f"resnet{depth}_imagenet"
    model = create_model(name, num_classes=1000)
    load_imagenet_weights(model, depth, download=False)  # never a download from the app
    mean, std = imagenet_normalisation()
    return describe(model.eval(), name=name, class_names=imagenet_class_names(), mean=mean, std=std,
                    input_size=model_info(name)["input_size"], dataset=None, dataset_size=None,
                    default_threshold=PAPER_THRESHOLD, test_accuracy=None)


def describe(model, **fields) -> CamModel:
    """A CamModel: the fields given, plus what one dummy forward pass and the head say."""
    with torch.no_grad():
        features = model.forward_features(torch.zeros(1, *fields["input_size"]))  # (1, C, h, w)
    nbytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    fields = {**fields, "class_names": list(fields["class_names"]), "mean": tuple(fields["mean"]),
              "std": tuple(fields["std"]), "input_size": tuple(fields["input_size"])}
    return CamModel(model=model, feature_shape=tuple(features.shape[1:]), method=cam_method(model), nbytes=nbytes, **fields)


def trained_models(session: Session) -> dict[str, str]:
    """The finished runs of this page's Train tab (a copy: the Train tab may add a run meanwhile)."""
    return {run.name: run.checkpoint for run in list(session.runs.values())
            if run.checkpoint and run.status != "running" and os.path.exists(run.checkpoint)}


MODELS = ModelLibrary("classifier", trained=trained_models, load=load_cam_model, uploads="cam-uploads",
                      default=DEFAULT_CHECKPOINT,
                      cache=KeyedCache(max_entries=8, max_bytes=MODEL_CACHE_BYTES, size=lambda m: m.nbytes))


def imagenet_available() -> list[int]:
    """Depths of the ImageNet ResNets whose torchvision weight file is on this machine."""
    return [depth for depth in sorted(IMAGENET_LAYOUTS) if os.path.exists(imagenet_weights_path(depth))]


def model_choices(session: Session) -> list[tuple[str, str]]:
    """(label, key) for every model this page may use."""
    return MODELS.choices(session) + [(f"resnet{d}_imagenet (ImageNet, torchvision weights)", f"imagenet:{d}")
                                      for d in imagenet_available()]


def refresh_models(model: str, request: gr.Request):
    """The model list again, keeping the choice: runs finished in the Train tab since the page
    opened appear (the CAM and Inside tabs' ↻, and their dropdowns' focus)."""
    choices = model_choices(session_for(request))
    keys = [key for _, key in choices]
    return gr.update(choices=choices, value=model if model in keys else (keys[0] if keys else None))


def model_identity(key: str, session: Session) -> tuple:
    """What the model behind a key is, for caches: its file's (path, mtime, size)."""
    source, _, name = (key or "").partition(":")
    if source == "imagenet" and name.isdigit() and int(name) in imagenet_available():
        return ("imagenet", *file_key(Path(imagenet_weights_path(int(name)))))
    return file_key(MODELS.path(key, session))


def resolve_model(key: str, session: Session) -> CamModel:
    """The model behind a dropdown key, looked up only among what this page may use."""
    source, _, name = (key or "").partition(":")
    if source == "imagenet":
        identity = model_identity(key, session) if name.isdigit() and int(name) in imagenet_available() else None
        if identity is None:
            raise ValueError(f"no model {key!r} here: its ImageNet weights are not on this machine.")
        return MODELS.cache.get(identity, lambda: load_imagenet_model(int(name)))
    return MODELS.load(key, session)


def imagenet_note() -> str:
    present = imagenet_available()
    if present:
        return "ImageNet-pretrained: " + ", ".join(f"resnet{d}_imagenet" for d in present) + " (in the list above)."
    path = imagenet_weights_path(18)
    return (f"**ImageNet-pretrained ResNets** appear in the list when torchvision's weight file is on this "
            f"machine (the app never downloads). For ResNet-18 put `{os.path.basename(path)}` at `{path}` "
            f"(from torchvision's `ResNet18_Weights.IMAGENET1K_V1`), or set `TORCH_HOME` to a folder whose "
            f"`hub/checkpoints/` holds it; 34, 50, 101 and 152 work the same way.")


def model_text(cm: CamModel) -> str:
    """What the model is and which method explains it (Markdown)."""
    c, h, w = cm.input_size
    classes = ", ".join(cm.class_names[:10]) + (f", … ({len(cm.class_names)} classes)" if len(cm.class_names) > 10 else "")
    trained = f" trained on **{cm.dataset}**" if cm.dataset else (" trained on **ImageNet**" if "imagenet" in cm.name else "")
    accuracy = f" · test accuracy {cm.test_accuracy:.1%}" if cm.test_accuracy is not None else ""
    fc, fh, fw = cm.feature_shape
    if cm.method == "CAM":
        pool = "average" if getattr(cm.model.head, "pool", "avg") == "avg" else "max"
        how = (f"**CAM**: its head is global {pool} pooling + one linear layer, so the map of class c is "
               f"M<sub>c</sub>(x, y) = Σ<sub>k</sub> w<sub>k</sub><sup>c</sup> f<sub>k</sub>(x, y) over its "
               f"last {fc} channels")
    else:
        how = ("**Grad-CAM**: its head is not global pooling + one linear layer, so CAM is not defined; "
               "each channel is weighted by the mean gradient of the class score instead")
    return (f"**{cm.name}**{trained}{accuracy} · input {c}×{h}×{w} · last feature map {fh}×{fw} · {how}. "
            f"Classes: {classes}.")


# Test images of the model's dataset (the CAM tab's examples, the Inside tab's pictures) ---------


def test_set(cm: CamModel):
    """The model's test split, or None where it cannot be had (offline, a user's folder)."""
    if cm.dataset is None:
        return None
    try:
        return load_dataset(cm.dataset, "test", image_size=cm.dataset_size, download=False)
    except ValueError:  # a torchvision dataset that is not on disk: examples are optional
        return None


def example_file(ds, index: int) -> str:
    """Test image `index` as a PNG at the model's input size (written once, shared by all pages)."""
    side = ds.image_size[0]
    path = EXAMPLES_DIR / f"{ds.name}-{side}" / f"{ds.name}-{side}-test-{index:05d}.png"
    return str(path if path.exists() else save_png(ds.images[index].permute(1, 2, 0), path))


# A classifier an experiment measures (the Experiments tab) ---------------------------------------


@dataclass(frozen=True)
class Network:
    title: str
    cm: CamModel
    meta: dict
    identity: tuple  # the checkpoint file's (path, mtime, size): what the cache keys on


def load_network(key: str, role: str, session: Session) -> Network:
    """The classifier behind a dropdown key, with a test set on this machine; ValueError otherwise."""
    cm = resolve_model(key, session)  # ValueError for a key not on this page, a GAN checkpoint ...
    if test_set(cm) is None:
        raise ValueError(f"the {role} network {key!r} has no test set on this machine (dataset: {cm.dataset or 'unknown'}), "
                         f"so the experiment cannot measure it: choose a model trained on digits, shapes or a "
                         f"torchvision dataset that is in ./data.")
    path = MODELS.path(key, session)
    title = re.sub(r"\.safetensors$", "", key.partition(":")[2])
    return Network(title=title, cm=cm, meta=read_checkpoint_meta(path), identity=file_key(path))
