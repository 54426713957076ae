"""The CAM tab: where a network looks when it names a class, and the box that follows.

Run alone with `python -m ui.cam`; app.py renders `build_demo()` as a tab.

Handlers adapt cnnzoo.cam (Zhou et al. 2016). One forward pass computes the maps of the five
most probable classes; they are kept per browser session (gr.State), so the threshold, colour
map, opacity and top-k controls only redraw boxes and overlays, never the network: dragging
the threshold moves the box live. Models come from checkpoints/ (shipped), the Train tab of
this page (ui.sessions), an upload, or torchvision's ImageNet weights when their file is on
disk. Loaded models sit in a small LRU keyed by file path + mtime; nothing loads at import.
"""
from __future__ import annotations

import html
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from cnnzoo.cam import (
    CURVE_THRESHOLDS, PAPER_THRESHOLD, LocalisationResult, box_iou, caption_below, cam_boxes, cam_method, cam_topk,
    localisation_accuracy, overlay_cam,
)  # fmt: skip
from cnnzoo.checkpoints import load_checkpoint, read_checkpoint_meta
from cnnzoo.data import dataset_info, load_dataset, load_image, normalize
from cnnzoo.models.resnet import IMAGENET_LAYOUTS, imagenet_class_names, imagenet_weights_path, load_imagenet_weights
from cnnzoo.registry import create_model, get_entry
from cnnzoo.viz import to_pil
from ui.common import serve, user_errors
from ui.sessions import Session, end_session, session_for

# A CAM is a batch-1 forward pass (milliseconds): many at once, never queued behind training.
CAM_CONCURRENCY = dict(concurrency_id="cam", concurrency_limit=4)
# Localisation runs the whole shapes test set (seconds of CPU): a couple at a time, results cached.
LOCALISATION_CONCURRENCY = dict(concurrency_id="localisation", concurrency_limit=2)
LIGHT = dict(concurrency_limit=None)

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = "simple-shapes-cam.safetensors"
MAX_TOP_K = 5  # maps computed per image; the top-k slider shows 1..5 of them
COLORMAPS = ["jet", "inferno", "viridis", "turbo", "magma"]
# Measured on 8×8 maps of 32×32 shapes: boxes at the paper's 0.2 were ~2.3× too large, 0.5 was
# near the best. Pictures the size the paper used (ImageNet, 224 px) keep the paper's 0.2.
# A checkpoint can carry its own measured best as meta["cam_threshold"].
SMALL_IMAGE_THRESHOLD = 0.5
DISPLAY_SIDE = 192  # overlays are enlarged by whole pixels to at least this many pixels
EXAMPLES_PER_MODEL = 10
LOCALISATION_IMAGES: int | None = None  # None: the whole shapes test set (2,000 images)
IOU_MIN = 0.5  # the paper's "correct box"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's
EXAMPLES_DIR = Path(tempfile.gettempdir()) / "cnnzoo-cam-examples"  # shared by all sessions, read-only

# ---------------------------------------------------------------------------------------------
# Models: where they come from, and a small cache
# ---------------------------------------------------------------------------------------------


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
    key: tuple = ()  # the cache key: (path, mtime, size) of its file


_models: OrderedDict[tuple, CamModel] = OrderedDict()
_models_lock = threading.Lock()
_loading_locks: dict[tuple, threading.Lock] = {}
MODEL_CACHE_ENTRIES = 8
MODEL_CACHE_BYTES = 800_000_000  # ImageNet ResNet-152 is 240 MB; the small nets are ~1 MB


def _file_key(path: Path) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _cached_model(key: tuple, loader) -> CamModel:
    """Models by (path, mtime, size): a re-saved file is loaded afresh, an old entry ages out.

    One lock per file: thirty pages opening the shipped model wait for a single load, while an
    ImageNet load (about a second) holds up nobody else.
    """
    with _models_lock:
        loading = _loading_locks.setdefault(key, threading.Lock())
    with loading:
        with _models_lock:
            if key in _models:
                _models.move_to_end(key)
                return _models[key]
        loaded = replace(loader(), key=key)
        with _models_lock:
            _models[key] = loaded
            _loading_locks.pop(key, None)
            while len(_models) > 1 and (
                len(_models) > MODEL_CACHE_ENTRIES or sum(m.nbytes for m in _models.values()) > MODEL_CACHE_BYTES
            ):
                _models.popitem(last=False)
        return loaded


def _load_checkpoint_model(path: Path) -> CamModel:
    meta = read_checkpoint_meta(path)  # a clear ValueError for anything that is not a cnnzoo checkpoint
    kind = get_entry(meta["model"]).kind
    if kind != "classifier":
        raise ValueError(f"{path.name} holds a {meta['model']} (a GAN {kind}), not a classifier: CAM explains a "
                         f"classifier's decision. Upload a checkpoint from the Train tab or `python -m train.classifier`.")
    model, meta = load_checkpoint(path)
    input_size = tuple(meta.get("input_size") or ())
    if len(input_size) != 3:
        raise ValueError(f"{path.name} does not say which input size its model takes (meta['input_size']); "
                         f"save it with cnnzoo's trainer, which records it.")
    channels = input_size[0]
    dataset = meta.get("dataset")
    dataset_size = None
    if dataset and dataset != "folder":
        try:
            native = dataset_info(dataset)["size"]
        except ValueError:
            dataset = None  # a name this cnnzoo does not know: no examples, no localisation
        else:
            dataset_size = None if input_size[-1] == native else input_size[-1]
    num_classes = model.head.fc.out_features if hasattr(getattr(model, "head", None), "fc") else None
    names = meta.get("class_names") or [str(i) for i in range(num_classes or 0)]
    threshold = meta.get("cam_threshold")
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        threshold = SMALL_IMAGE_THRESHOLD if input_size[-1] < 100 else PAPER_THRESHOLD
    accuracy = (meta.get("metrics") or {}).get("test_acc")
    return _describe(model, meta["model"], names, meta.get("mean") or [0.5] * channels,
                     meta.get("std") or [0.25] * channels, input_size, dataset, dataset_size, float(threshold),
                     accuracy if isinstance(accuracy, (int, float)) else None)


def _load_imagenet_model(depth: int) -> CamModel:
    model = create_model(f"resnet{depth}_imagenet", num_classes=1000)
    load_imagenet_weights(model, depth, download=False)  # never a download from the app
    return _describe(model.eval(), f"resnet{depth}_imagenet", imagenet_class_names(), IMAGENET_MEAN, IMAGENET_STD,
                     (3, 224, 224), None, None, PAPER_THRESHOLD, None)


def _describe(model, name, class_names, mean, std, input_size, dataset, dataset_size, threshold, accuracy) -> CamModel:
    with torch.no_grad():
        features = model.forward_features(torch.zeros(1, *input_size))  # (1, C, h, w)
    nbytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return CamModel(model, name, list(class_names), tuple(mean), tuple(std), tuple(input_size), dataset, dataset_size,
                    tuple(features.shape[1:]), cam_method(model), threshold, accuracy, nbytes)


def shipped_checkpoints() -> list[Path]:
    """The classifiers among checkpoints/*.safetensors (GAN generators live there too), the default first."""
    files = sorted(CHECKPOINT_DIR.glob("*.safetensors")) if CHECKPOINT_DIR.is_dir() else []
    return sorted((p for p in files if _is_classifier(p)), key=lambda p: p.name != DEFAULT_CHECKPOINT)


def _is_classifier(path: Path) -> bool:
    try:  # the header only: a few kilobytes
        return get_entry(read_checkpoint_meta(path)["model"]).kind == "classifier"
    except ValueError:  # unreadable or unknown: listed nowhere; an upload of it gets the message
        return False


def imagenet_available() -> list[int]:
    """Depths of the ImageNet ResNets whose torchvision weight file is on this machine."""
    return [depth for depth in sorted(IMAGENET_LAYOUTS) if os.path.exists(imagenet_weights_path(depth))]


def _uploads_dir(session: Session) -> Path:
    return session.folder / "cam-uploads"


def _session_runs(session: Session) -> list:
    return [run for run in list(session.runs.values())  # a copy: the Train tab may add a run meanwhile
            if run.checkpoint and run.status != "running" and os.path.exists(run.checkpoint)]


def model_choices(session: Session) -> list[tuple[str, str]]:
    """(label, key) for every model this session may use. Keys never hold a path from the user."""
    choices = []
    for path in shipped_checkpoints():
        choices.append((f"{path.stem} (shipped)", f"shipped:{path.name}"))
    for run in _session_runs(session):
        choices.append((f"{run.name} (trained on this page)", f"run:{run.name}"))
    uploads = _uploads_dir(session)
    for path in sorted(uploads.glob("*.safetensors")) if uploads.is_dir() else []:
        choices.append((f"{path.name} (uploaded)", f"upload:{path.name}"))
    for depth in imagenet_available():
        choices.append((f"resnet{depth}_imagenet (ImageNet, torchvision weights)", f"imagenet:{depth}"))
    return choices


def resolve_model(key: str, session: Session) -> CamModel:
    """The model behind a dropdown key, looked up only among what this session may use."""
    source, _, name = (key or "").partition(":")
    if source == "imagenet" and name.isdigit() and int(name) in imagenet_available():
        depth = int(name)
        return _cached_model(("imagenet", *_file_key(Path(imagenet_weights_path(depth)))),
                             lambda: _load_imagenet_model(depth))
    path = None
    if source == "shipped":
        path = next((p for p in shipped_checkpoints() if p.name == name), None)
    elif source == "run":
        path = next((Path(r.checkpoint) for r in _session_runs(session) if r.name == name), None)
    elif source == "upload" and "/" not in name and "\\" not in name and name not in ("", ".", ".."):
        candidate = _uploads_dir(session) / name
        path = candidate if candidate.is_file() else None
    if path is None:
        raise ValueError(f"no model {key!r} here: choose one from the list (models trained or uploaded on "
                         f"another page belong to that page).")
    return _cached_model(_file_key(path), lambda: _load_checkpoint_model(path))


def default_model_key(choices: list[tuple[str, str]]) -> str | None:
    return choices[0][1] if choices else None


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


def imagenet_note() -> str:
    present = imagenet_available()
    if present:
        return "ImageNet-pretrained: " + ", ".join(f"resnet{d}_imagenet" for d in present) + " (in the list above)."
    path = imagenet_weights_path(18)
    return (f"**ImageNet-pretrained ResNets** appear in the list when torchvision's weight file is on this "
            f"machine (the app never downloads). For ResNet-18 put `{os.path.basename(path)}` at `{path}` "
            f"(from torchvision's `ResNet18_Weights.IMAGENET1K_V1`), or set `TORCH_HOME` to a folder whose "
            f"`hub/checkpoints/` holds it; 34, 50, 101 and 152 work the same way.")


# ---------------------------------------------------------------------------------------------
# Test images of the model's dataset (examples, with true boxes for shapes)
# ---------------------------------------------------------------------------------------------

_EXAMPLE_NAME = re.compile(r"(?P<dataset>[a-z0-9-]+)-(?P<size>\d+)-test-(?P<index>\d+)\.png")


def _test_set(cm: CamModel):
    """The model's test split, or None where it cannot be had (offline, a user's folder)."""
    if cm.dataset is None:
        return None
    try:
        return load_dataset(cm.dataset, "test", image_size=cm.dataset_size, download=False)
    except ValueError:  # a torchvision dataset that is not on disk: examples are optional
        return None


def _write_png_once(picture, path: Path) -> Path:
    """Write a PNG atomically unless it exists (sessions share these read-only files)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        to_pil(picture).save(tmp, format="PNG")
        os.replace(tmp, path)
    return path


def example_file(ds, index: int) -> str:
    """Test image `index` as a PNG at the model's input size; its name lets `cam` find its true box."""
    side = ds.image_size[0]
    path = EXAMPLES_DIR / f"{ds.name}-{side}" / f"{ds.name}-{side}-test-{index:05d}.png"
    return str(_write_png_once(ds.images[index].permute(1, 2, 0), path))


def example_gallery(cm: CamModel) -> tuple[list[tuple[str, str]], list[int]]:
    """Thumbnails (one test image of each class, enlarged by whole pixels) and their test indices."""
    ds = _test_set(cm)
    if ds is None:
        return [], []
    indices = []
    for c in range(ds.num_classes):
        hits = (ds.labels == c).nonzero()
        if len(hits):
            indices.append(int(hits[0]))
        if len(indices) == EXAMPLES_PER_MODEL:
            break
    side = ds.image_size[0]
    items = []
    for i in indices:
        thumb = _enlarge(ds.images[i], 96)
        path = EXAMPLES_DIR / f"{ds.name}-{side}" / f"thumb-{i:05d}.png"
        items.append((str(_write_png_once(thumb.permute(1, 2, 0), path)), ds.class_names[ds.labels[i]]))
    return items, indices


def _enlarge(image: torch.Tensor, min_side: int) -> torch.Tensor:
    """uint8 (C, H, W) enlarged by a whole factor (nearest) to at least min_side pixels."""
    scale = max(1, math.ceil(min_side / max(image.shape[1:])))
    return image.repeat_interleave(scale, 1).repeat_interleave(scale, 2)


def _known_test_image(path: str, image: torch.Tensor, cm: CamModel):
    """(true label, true box or None) when `image` is exactly test image i of the model's dataset.

    Example files are named <dataset>-<size>-test-<i>.png; the pixels are compared too, so a
    renamed upload of something else gets no box it does not have.
    """
    match = _EXAMPLE_NAME.fullmatch(Path(path).name)
    if not match or match["dataset"] != cm.dataset:
        return None, None
    ds = _test_set(cm)
    index = int(match["index"])
    if ds is None or index >= len(ds) or ds.images[index].shape != image.shape or not torch.equal(ds.images[index], image):
        return None, None
    box = ds.boxes[index].tolist() if ds.boxes is not None else None
    return int(ds.labels[index]), box


# ---------------------------------------------------------------------------------------------
# One computed CAM, and how it is drawn
# ---------------------------------------------------------------------------------------------


@dataclass
class CamView:
    """What one forward pass gave, kept per session so the display controls redraw without it."""

    model_name: str
    image: torch.Tensor  # uint8 (C, H, W): the picture as the model saw it
    maps: torch.Tensor  # (K, h, w) raw maps of the K most probable classes
    class_names: list[str]  # the K class names, most probable first
    probs: list[float]
    label: str  # "CAM (global average pooling)" or "Grad-CAM"
    method: str
    true_label: str | None = None
    true_box: list[float] | None = None


def compute_view(cm: CamModel, image_path: str) -> CamView:
    """Read the picture (any format, through data.load_image), run the model once, keep the top maps."""
    channels, side = cm.input_size[0], cm.input_size[-1]
    image = load_image(image_path, channels=channels, size=side)  # (C, side, side) uint8
    result = cam_topk(cm.model, normalize(image[None], cm.mean, cm.std), k=min(MAX_TOP_K, len(cm.class_names)))
    true_label, true_box = _known_test_image(image_path, image, cm)
    return CamView(
        model_name=cm.name, image=image, maps=result.maps[0].cpu(),
        class_names=[cm.class_names[c] for c in result.classes[0].tolist()], probs=result.probs[0].tolist(),
        label=result.label, method=result.method,
        true_label=cm.class_names[true_label] if true_label is not None else None, true_box=true_box,
    )  # fmt: skip


def _write_png(picture, path: Path) -> str:
    """Replace `path` atomically: the server copies the file after the handler returns, and a
    second request of the same page may be writing the next version at that moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    to_pil(picture).save(tmp, format="PNG", compress_level=1)  # 3× faster than the default, a little larger
    os.replace(tmp, path)
    return str(path)


def side_by_side(pictures: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Equal-height uint8 (H, W, 3) pictures in one row, `gap` black pixels around each."""
    h = pictures[0].shape[0]
    spacer = np.zeros((h, gap, 3), np.uint8)
    row = np.concatenate([spacer] + [part for p in pictures for part in (p, spacer)], axis=1)
    return np.pad(row, ((gap, gap), (0, 0), (0, 0)))


def _box_text(box) -> str:
    x0, y0, x1, y1 = (int(v) for v in box)
    return f"({x0}, {y0})–({x1}, {y1})"


def render_view(view: CamView, top_k, colormap: str, opacity: float, box_mode: str, threshold: float,
                folder: Path):
    """(gallery, summary, probabilities, download) for a CamView; no forward pass.

    The gallery is the input as the model saw it, then one overlay per class with its box
    (white) and, for a test image with a known box, the true box (green).
    """
    try:
        k = int(top_k)
    except (TypeError, ValueError):
        raise ValueError(f"top-k must be a whole number from 1 to {MAX_TOP_K}, got {top_k!r}") from None
    k = max(1, min(k, len(view.class_names)))
    threshold = float(threshold)
    h, w = view.image.shape[1:]
    side = max(h, w) * max(1, math.ceil(DISPLAY_SIDE / max(h, w)))
    boxes = cam_boxes(view.maps[:k], threshold, mode=box_mode, size=(h, w))  # (k, 4) in image pixels
    ious = box_iou(boxes, torch.tensor(view.true_box)).tolist() if view.true_box is not None else None

    # The input itself: an overlay at opacity 0 (enlarged the same way, with the same true box).
    picture = overlay_cam(view.image, torch.zeros(h, w), opacity=0.0, true_box=view.true_box, size=side)
    # Gallery captions stay short (tiles are ~160 px wide); the PNG to download says more.
    pictures = [(picture, f"input {h}×{w}" + (f" · {view.true_label}" if view.true_label else ""), "input")]
    for j in range(k):
        overlay = overlay_cam(view.image, view.maps[j], colormap=colormap, opacity=opacity, box=boxes[j],
                              true_box=view.true_box, size=side)
        caption = f"{j + 1}. {view.class_names[j]} {view.probs[j]:.1%}"
        pictures.append((overlay, caption, caption + (f" · IoU {ious[j]:.2f}" if ious is not None else "")))

    gallery = [(_write_png(p, folder / f"cam-{i}.png"), caption) for i, (p, caption, _) in enumerate(pictures)]
    download = _write_png(side_by_side([caption_below(p, long) for p, _, long in pictures]), folder / "cam-overlays.png")

    top = f"**{view.class_names[0]}** {view.probs[0]:.1%}"
    truth = ""
    if view.true_label is not None:
        truth = f" (true: {view.true_label} {'✓' if view.true_label == view.class_names[0] else '✗'})"
    lines = [f"**{view.label}** of **{view.model_name}** · top-1: {top}{truth}",
             f"Box around the {'largest region' if box_mode == 'largest' else 'whole area'} above **{threshold:.0%}** "
             f"of the top class's map range: {_box_text(boxes[0])}"]
    if ious is not None:
        hit = "localised ✓" if ious[0] >= IOU_MIN and view.true_label == view.class_names[0] else "not localised ✗"
        lines[-1] += (f" · true box {_box_text(view.true_box)} · **IoU {ious[0]:.2f}** "
                      f"({hit}: the paper counts IoU ≥ {IOU_MIN} with the right class)")
    if view.method == "Grad-CAM":
        lines.append("Grad-CAM, not CAM: this model's head is not global pooling + one linear layer.")
    summary = "  \n".join(lines)
    probabilities = {name: p for name, p in zip(view.class_names[:k], view.probs[:k])}
    label = f"{view.label}: top-{k} classes (white box: threshold {threshold:.2f}" + (", green: true box)" if view.true_box else ")")
    return gr.update(value=gallery, label=label), summary, probabilities, download


EMPTY_VIEW = (gr.update(value=[]), "Choose a model and a picture.", None, None)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def cam(model: str, image: str | None, top_k: int = 3, colormap: str = "jet", opacity: float = 0.5,
        box_mode: str = "largest", threshold: float = SMALL_IMAGE_THRESHOLD, request: gr.Request = None):
    """CAM of `image` (a file path) for the top-k classes of `model` (a key from the model list).

    Returns (overlays gallery, summary, probabilities, overlay PNG to download); the maps are kept
    for this page, so cam_redraw changes threshold / colours without running the model again.
    """
    if image is None:
        raise gr.Error("Upload a picture (or take one with the webcam), or press 'random test image'.")
    session = session_for(request)
    with user_errors():
        cm = resolve_model(model, session)
        view = compute_view(cm, image)
        return (*render_view(view, top_k, colormap, opacity, box_mode, threshold, session.folder / "cam"), view)


def cam_redraw(top_k, colormap, opacity, box_mode, threshold, view: CamView | None, request: gr.Request = None):
    """Redraw the last CAM of this page with other display settings (no forward pass)."""
    if view is None:
        return EMPTY_VIEW
    with user_errors():
        return render_view(view, top_k, colormap, opacity, box_mode, threshold, session_for(request).folder / "cam")


def cam_on_upload(model, image, top_k, colormap, opacity, box_mode, threshold, request: gr.Request):
    """A new picture in the image box: its CAM; a cleared box clears the view."""
    if image is None:
        return (*EMPTY_VIEW, None)
    return cam(model, image, top_k, colormap, opacity, box_mode, threshold, request)


def select_model(model: str, top_k, colormap, opacity, box_mode, request: gr.Request):
    """Show the model, its test images, its default threshold, and the CAM of its first example."""
    session = session_for(request)
    if not model:
        return _no_model_outputs(session)
    with user_errors():
        cm = resolve_model(model, session)
    items, indices = example_gallery(cm)
    threshold = cm.default_threshold
    if indices:
        image = example_file(_test_set(cm), indices[0])
        view_outputs = cam(model, image, top_k, colormap, opacity, box_mode, threshold, request)
    else:
        image, view_outputs = None, (*EMPTY_VIEW, None)
        view_outputs = (view_outputs[0], "Upload a picture to see its class activation maps.", *view_outputs[2:])
    examples_label = (f"test images of {cm.dataset} (click one)" if items else
                      "no test images for this model here: upload a picture")
    return (model_text(cm), gr.update(value=items, label=examples_label), indices, threshold, image,
            *view_outputs, _card_text(model))


def _no_model_outputs(session: Session):
    text = ("No model yet. Train one in the **Train** tab (dataset *shapes* gives true boxes), then press ↻; "
            "or upload a checkpoint below. " + imagenet_note())
    return (text, gr.update(value=[], label="test images"), [], SMALL_IMAGE_THRESHOLD, None, *EMPTY_VIEW, None, "")


def open_tab(top_k, colormap, opacity, box_mode, request: gr.Request):
    """On page load: the list of models (shipped, this page's, ImageNet if on disk) and the default's view."""
    session = session_for(request)
    choices = model_choices(session)
    model = default_model_key(choices)
    return (gr.update(choices=choices, value=model), imagenet_note(),
            *select_model(model, top_k, colormap, opacity, box_mode, request))


def refresh_models(model: str, request: gr.Request):
    """The model list again: runs finished in the Train tab since the page opened appear."""
    choices = model_choices(session_for(request))
    keys = [key for _, key in choices]
    return gr.update(choices=choices, value=model if model in keys else default_model_key(choices))


def upload_checkpoint(checkpoint: str | None, top_k, colormap, opacity, box_mode, request: gr.Request):
    """Keep an uploaded .safetensors checkpoint for this page only, check it, and select it."""
    if checkpoint is None:
        raise gr.Error("Choose a .safetensors checkpoint file (the Train tab's download).")
    session = session_for(request)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(checkpoint).name).lstrip(".") or "checkpoint"
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    target = _uploads_dir(session) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.tmp")
    shutil.copyfile(checkpoint, tmp)
    with user_errors():
        try:
            _load_checkpoint_model(tmp)  # refuse a bad file before it joins the list
        except ValueError:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, target)
    key = f"upload:{name}"
    choices = model_choices(session)
    return (gr.update(choices=choices, value=key), *select_model(key, top_k, colormap, opacity, box_mode, request))


def random_example(model: str, top_k, colormap, opacity, box_mode, threshold, request: gr.Request):
    """A random image of the model's test set (with its true box for shapes) and its CAM."""
    with user_errors():
        cm = resolve_model(model, session_for(request))
    ds = _test_set(cm)
    if ds is None:
        raise gr.Error(f"No test images of this model's dataset ({html.escape(str(cm.dataset))}) on this "
                       f"machine: upload a picture instead.")
    image = example_file(ds, random.randrange(len(ds)))
    return image, *cam(model, image, top_k, colormap, opacity, box_mode, threshold, request)


def pick_example(model, indices, top_k, colormap, opacity, box_mode, threshold, evt: gr.SelectData, request: gr.Request):
    """A click on a test-image thumbnail: that image and its CAM."""
    with user_errors():
        cm = resolve_model(model, session_for(request))
    ds = _test_set(cm)
    if ds is None or not indices or not 0 <= evt.index < len(indices):
        raise gr.Error("These test images belong to another model: choose the model again.")
    image = example_file(ds, indices[evt.index])
    return image, *cam(model, image, top_k, colormap, opacity, box_mode, threshold, request)


# ---------------------------------------------------------------------------------------------
# Localisation accuracy (the paper's measure) on the shapes test set
# ---------------------------------------------------------------------------------------------

_localisations: OrderedDict[tuple, tuple[LocalisationResult, float]] = OrderedDict()
_localisations_lock = threading.Lock()


def localisation(model: str, box_mode: str = "largest", threshold: float = SMALL_IMAGE_THRESHOLD,
                 request: gr.Request = None):
    """Localisation accuracy of `model` over the shapes test set at `threshold`, and over thresholds.

    Returns (summary, figure, table, best threshold). Results are cached per model file, so a
    class pressing the button on the shipped model computes it once.
    """
    session = session_for(request)
    with user_errors():
        cm = resolve_model(model, session)
        if cm.dataset != "shapes":
            raise ValueError(f"localisation needs true boxes, which only the shapes dataset has; this model was "
                             f"trained on {cm.dataset or 'other pictures'}. Choose a model trained on shapes "
                             f"(train one in the Train tab: dataset shapes).")
        chosen = round(float(threshold), 4)
        thresholds = tuple(sorted({*CURVE_THRESHOLDS, PAPER_THRESHOLD, chosen}))
        key = (cm.key, LOCALISATION_IMAGES, thresholds, box_mode)
        with _localisations_lock:
            hit = _localisations.get(key)
        if hit is None:
            ds = load_dataset("shapes", "test", image_size=cm.dataset_size)
            started = time.perf_counter()
            result = localisation_accuracy(cm.model, ds, thresholds, mode=box_mode, mean=cm.mean, std=cm.std,
                                           limit=LOCALISATION_IMAGES, iou_min=IOU_MIN)
            hit = (result, time.perf_counter() - started)
            with _localisations_lock:
                _localisations[key] = hit
                while len(_localisations) > 16:
                    _localisations.popitem(last=False)
    result, seconds = hit
    best = result.best_threshold
    region = "largest region" if result.mode == "largest" else "box around everything above"
    summary = (
        f"**{result.at(chosen):.1%}** of {result.num_images:,} shapes test images localised at threshold "
        f"**{chosen:.2f}** (right class and IoU ≥ {IOU_MIN} with the true box; {result.method}, {region}). "
        f"Best threshold **{best:.2f}**: {result.at(best):.1%} · the paper's {PAPER_THRESHOLD}: "
        f"{result.at(PAPER_THRESHOLD):.1%} · classification accuracy {result.classification_accuracy:.1%} · "
        f"measured in {seconds:.1f} s."
    )
    return summary, localisation_figure(result, chosen, cm.name), localisation_table(result), best


def localisation_table(result: LocalisationResult) -> pd.DataFrame:
    rows = result.rows()
    return pd.DataFrame({
        "threshold": [r["threshold"] for r in rows],
        "localised %": [round(100 * r["localisation"], 1) for r in rows],
        f"IoU ≥ {IOU_MIN} (any class) %": [round(100 * r["box_hits"], 1) for r in rows],
        "mean IoU": [round(r["mean_iou"], 3) for r in rows],
        "box area / true area": [round(r["area_ratio"], 2) for r in rows],
    })  # fmt: skip


def localisation_figure(result: LocalisationResult, chosen: float, title: str) -> Figure:
    """Localisation accuracy over thresholds, with the paper's 0.2, the chosen and the best threshold."""
    t = result.thresholds
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(t, [100 * a for a in result.accuracy], "o-", color="tab:blue", label="localised (right class, IoU ≥ 0.5)")
    ax.plot(t, [100 * h for h in result.box_hits], "--", color="tab:orange", label="IoU ≥ 0.5, any class")
    ax.axvline(PAPER_THRESHOLD, color="grey", linestyle=":", label=f"paper's {PAPER_THRESHOLD}")
    ax.axvline(chosen, color="tab:red", alpha=0.6, label=f"chosen {chosen:.2f}")
    best = result.best_threshold
    ax.plot([best], [100 * result.at(best)], "*", markersize=16, color="gold", markeredgecolor="black",
            label=f"best {best:.2f}: {result.at(best):.0%}")
    ax.set_xlabel("threshold: fraction of the map's range kept in the box region")
    ax.set_ylabel("% of test images")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")  # beside: the curve stays clear
    ax.set_title(f"{title}: localisation on {result.num_images:,} shapes test images", fontsize="medium")
    return fig


def _card_text(model: str | None) -> str:
    """The shipped checkpoint's card (checkpoints/<name>.md) and any card with a GAP vs GMP measurement.

    Headings are moved two levels down so a card reads as a section of the tab.
    """
    source, _, name = (model or "").partition(":")
    own = CHECKPOINT_DIR / (Path(name).stem + ".md") if source == "shipped" else None
    cards = [own] if own is not None and own.is_file() else []
    if CHECKPOINT_DIR.is_dir():
        cards += [card for card in sorted(CHECKPOINT_DIR.glob("*.md"))
                  if card != own and "GMP" in card.read_text(encoding="utf-8")]
    parts = []
    for card in cards:
        text = re.sub(r"^(#{1,4}) ", r"\1## ", card.read_text(encoding="utf-8"), flags=re.M)
        parts.append(f"**From the card `checkpoints/{card.name}`:**\n\n{text}")
    return "\n\n---\n\n".join(parts)


def picture_input(**options) -> gr.Image:
    """A gr.Image whose unreadable uploads get a clear message.

    Gradio opens an uploaded picture with PIL before any handler runs; a file that is not a
    picture would fail there with a bare "Error". The decoding itself is data.load_image's.
    The wrapper is set on the instance: gradio writes a .pyi file beside the source of every
    Component subclass when the class is defined, so a subclass would write into ui/.
    """
    image = gr.Image(**options)
    gradio_preprocess = image.preprocess

    def preprocess(payload):
        try:
            return gradio_preprocess(payload)
        except gr.Error:
            raise
        except Exception as error:  # PIL raises OSError, SyntaxError, DecompressionBombError ...
            raise gr.Error(html.escape(f"That file is not a picture this app can read ({type(error).__name__}); "
                                       f"use a PNG, JPEG, GIF, BMP, TIFF or WebP file."), print_exception=False) from error

    image.preprocess = preprocess
    return image


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------

INTRO = """
**Class activation maps** (Zhou et al. 2016): a network that ends in global average pooling and
one linear layer scores class c as the *average* of the map
M<sub>c</sub>(x, y) = Σ<sub>k</sub> w<sub>k</sub><sup>c</sup> f<sub>k</sub>(x, y), so the map shows **where** the
evidence for c lies. Keep the region above a threshold and its box
localises the object, although the network only ever saw class labels.
"""

GAP_VS_GMP = f"""
The paper's measure: a test image counts as **localised** when the class is right *and* the box
of its map has IoU ≥ {IOU_MIN} with the true box. **GAP vs GMP:** with global *average* pooling every
location that looks like the class adds to the score, so the network learns to light up the
whole object; with global *max* pooling only the strongest location counts, so the maps mark one
spot and boxes come out too small. The paper found GAP localises better; measure it here on a
GAP and a GMP model (train `simple_cnn` on *shapes* with pooling *max* in the Train tab).
The paper's 20% threshold was chosen for 14×14 maps of 224-pixel images; 32-pixel images with
8×8 maps may want another one: the curve shows which.
"""


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · CAM") as demo:
        gr.Markdown(INTRO)
        view = gr.State(None)
        example_indices = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                with gr.Row(equal_height=True):
                    model = gr.Dropdown([], label="model", allow_custom_value=True, scale=5, elem_id="cam-model")
                    refresh = gr.Button("↻ list", scale=0, min_width=70, size="sm")
                model_info = gr.Markdown(label="model", elem_id="cam-model-info")
                with gr.Accordion("your own checkpoint, ImageNet models", open=False):
                    checkpoint = gr.File(label="checkpoint (.safetensors, from the Train tab)", file_types=[".safetensors"])
                    imagenet_info = gr.Markdown()
                image = picture_input(label="picture (upload, webcam or paste)", sources=["upload", "webcam", "clipboard"],
                                     type="filepath", image_mode=None, height=170, elem_id="cam-image")
                with gr.Row():
                    random_btn = gr.Button("random test image", elem_id="cam-random")
                    run_btn = gr.Button("compute CAM", variant="primary")
            with gr.Column(scale=2):
                summary = gr.Markdown("Choose a model and a picture.", label="summary", elem_id="cam-summary")
                overlays = gr.Gallery(label="class activation maps", columns=4, height=250, object_fit="contain",
                                      elem_id="cam-overlays")
                with gr.Row():
                    threshold = gr.Slider(0.05, 0.95, value=SMALL_IMAGE_THRESHOLD, step=0.05, elem_id="cam-threshold",
                                          label="box threshold (fraction of the map's range)",
                                          info=f"the paper uses {PAPER_THRESHOLD}; small maps like a higher one")
                    opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="heatmap opacity")
                with gr.Row():
                    colormap = gr.Dropdown(COLORMAPS, value="jet", label="colour map", min_width=100)
                    top_k = gr.Slider(1, MAX_TOP_K, value=3, step=1, label="top-k classes", min_width=140)
                    box_mode = gr.Radio([("largest region (paper)", "largest"), ("everything above", "all")],
                                        value="largest", label="box around", min_width=180)
                with gr.Row():
                    probabilities = gr.Label(label="probabilities", num_top_classes=MAX_TOP_K, show_heading=False,
                                             elem_id="cam-probs")
                    download = gr.File(label="download the overlays (PNG)", interactive=False)
        # Gallery tiles are at least 100 px wide: ten test images need the page's whole width.
        examples = gr.Gallery(label="test images", columns=EXAMPLES_PER_MODEL, height=150, allow_preview=False,
                              elem_id="cam-examples")

        with gr.Accordion("Localisation accuracy: how often is the box right?", open=False):
            gr.Markdown(GAP_VS_GMP)
            with gr.Row():
                measure_btn = gr.Button("measure on the shapes test set", variant="primary")
                use_best_btn = gr.Button("use the best threshold", interactive=False)
            best_threshold = gr.State(None)
            loc_summary = gr.Markdown(label="localisation summary", elem_id="cam-localisation")
            loc_plot = gr.Plot(label="localisation accuracy over thresholds", format="png", elem_id="cam-localisation-plot")
            loc_table = gr.Dataframe(label="over thresholds", interactive=False)
            card = gr.Markdown()

        display = [top_k, colormap, opacity, box_mode]
        view_outputs = [overlays, summary, probabilities, download, view]
        model_outputs = [model_info, examples, example_indices, threshold, image, *view_outputs, card]
        gr.on([demo.load], open_tab, display, [model, imagenet_info, *model_outputs],
              api_visibility="private", **CAM_CONCURRENCY)
        model.input(select_model, [model, *display], model_outputs, api_name="cam_select_model", **CAM_CONCURRENCY)
        refresh.click(refresh_models, model, model, api_name="cam_models", **LIGHT)
        checkpoint.upload(upload_checkpoint, [checkpoint, *display], [model, *model_outputs],
                          api_name="cam_upload_checkpoint", **CAM_CONCURRENCY)

        settings = [*display, threshold]
        run_btn.click(cam, [model, image, *settings], view_outputs, api_name="cam", **CAM_CONCURRENCY)
        image.input(cam_on_upload, [model, image, *settings], view_outputs, api_visibility="private",
                    trigger_mode="always_last", **CAM_CONCURRENCY)
        random_btn.click(random_example, [model, *settings], [image, *view_outputs],
                         api_name="cam_random_example", **CAM_CONCURRENCY)
        examples.select(pick_example, [model, example_indices, *settings], [image, *view_outputs],
                        api_visibility="private", **CAM_CONCURRENCY)
        # Display controls redraw from the kept maps: live while the slider moves.
        gr.on([threshold.input, opacity.input, top_k.input, colormap.input, box_mode.input], cam_redraw, [*settings, view],
              view_outputs[:4], api_name="cam_redraw", trigger_mode="always_last", show_progress="hidden",
              **CAM_CONCURRENCY)

        measure = measure_btn.click(localisation, [model, box_mode, threshold], [loc_summary, loc_plot, loc_table, best_threshold],
                                    api_name="localisation", **LOCALISATION_CONCURRENCY)
        measure.then(lambda best: gr.update(interactive=best is not None, value=f"use the best threshold ({best:.2f})"
                                            if best is not None else "use the best threshold"),
                     best_threshold, use_best_btn, api_visibility="private", **LIGHT)
        use_best_btn.click(lambda best, current: best if best is not None else current, [best_threshold, threshold],
                           threshold, api_visibility="private", **LIGHT).then(
            cam_redraw, [*settings, view], view_outputs[:4], api_visibility="private", **CAM_CONCURRENCY)
        demo.unload(end_session)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
