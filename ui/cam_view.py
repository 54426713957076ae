"""What the CAM tab draws: one computed CAM (CamView) as overlays, a summary and a download, and
the localisation curve. No forward pass happens here: rendering only reads the kept maps, so
the threshold slider can move the box live.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd
import torch
from matplotlib.figure import Figure

from cnnzoo.cam import PAPER_THRESHOLD, LocalisationResult, cam_boxes, cam_topk
from cnnzoo.boxes import box_iou
from cnnzoo.data import normalize
from cnnzoo.cache import KeyedCache
from cnnzoo.files import atomic_write
from cnnzoo.viz import caption_below, overlay_cam, png_bytes, side_by_side, whole_scale
from ui.cam_models import CamModel

MAX_TOP_K = 5  # maps computed per image; the top-k slider shows 1..5 of them
DISPLAY_SIDE = 192  # overlays are enlarged by whole pixels to at least this many pixels
IOU_MIN = 0.5  # the paper's "correct box"


@dataclass
class CamView:
    """What one forward pass gave, kept per page (gr.State) so the display controls redraw without it."""

    model_name: str
    image: torch.Tensor  # uint8 (C, H, W): the picture as the model saw it
    maps: torch.Tensor  # (K, h, w) raw maps of the K most probable classes
    class_names: list[str]  # the K class names, most probable first
    probs: list[float]
    label: str  # "CAM (global average pooling)" or "Grad-CAM"
    method: str
    true_label: str | None = None
    true_box: list[float] | None = None
    dataset: str | None = None  # what the model was trained on (None: unknown, or ImageNet's)
    classes: int = 0  # how many classes it knows
    key: tuple | None = None  # (model file, picture content, truth) when cached (compute_view)


# A CAM is deterministic: the same model file, picture and truth give the same view, and the same
# view drawn with the same settings the same pictures. Both are made once and shared by a class
# (thirty students clicking the first thumbnail cost one forward pass and one drawing); each page
# still gets files of its own, in its own folder.
_views: KeyedCache[CamView] = KeyedCache(max_entries=256, max_bytes=64_000_000,
                                         size=lambda view: view.image.nbytes + view.maps.nbytes)
_drawings: KeyedCache[Drawing] = KeyedCache(max_entries=256, max_bytes=96_000_000, size=lambda d: d.nbytes)


def compute_view(cm: CamModel, image: torch.Tensor, truth: tuple[int, list[float] | None] | None = None,
                 model_identity: tuple | None = None) -> CamView:
    """Run the model once on a uint8 (C, H, W) picture at its input size and keep the top maps;
    truth: (label, box or None) when the picture is a test image the tab showed itself.
    With the model's identity (its file, ui.cam_models.model_identity) the view is cached by
    (model, picture content, truth)."""
    if model_identity is None:
        return _forward(cm, image, truth, None)
    content = hashlib.sha1(image.contiguous().numpy().tobytes()).hexdigest()
    known = None if truth is None else (truth[0], None if truth[1] is None else tuple(truth[1]))
    key = (model_identity, content, tuple(image.shape), known)
    return _views.get(key, lambda: _forward(cm, image, truth, key))


def _forward(cm: CamModel, image: torch.Tensor, truth, key: tuple | None) -> CamView:
    result = cam_topk(cm.model, normalize(image[None], cm.mean, cm.std), k=min(MAX_TOP_K, len(cm.class_names)))
    return CamView(
        model_name=cm.name, image=image, maps=result.maps[0].cpu(),
        class_names=[cm.class_names[c] for c in result.classes[0].tolist()], probs=result.probs[0].tolist(),
        label=result.label, method=result.method,
        true_label=cm.class_names[truth[0]] if truth else None, true_box=truth[1] if truth else None,
        dataset=cm.dataset, classes=len(cm.class_names), key=key,
    )  # fmt: skip


def box_text(box) -> str:
    x0, y0, x1, y1 = (int(v) for v in box)
    return f"({x0}, {y0})–({x1}, {y1})"


@dataclass(frozen=True)
class Drawing:
    """A CamView drawn with one set of display settings: PNG bytes and the texts beside them."""

    gallery: list[tuple[bytes, str]]  # the input, then one overlay per class, with captions
    download: bytes  # all of them side by side, with long captions
    label: str
    summary: str
    probabilities: dict[str, float]

    @property
    def nbytes(self) -> int:
        return sum(len(png) for png, _ in self.gallery) + len(self.download)


def render_view(view: CamView, top_k, colormap: str, opacity: float, box_mode: str, threshold: float, folder: Path):
    """(gallery, summary, probabilities, download) for a CamView, as files in `folder`; no forward
    pass. Drawings of a cached view are cached too (by view and settings)."""
    try:
        k = max(1, min(int(top_k), len(view.class_names)))
    except (TypeError, ValueError):
        raise ValueError(f"top-k must be a whole number from 1 to {MAX_TOP_K}, got {top_k!r}") from None
    settings = (k, colormap, float(opacity), box_mode, float(threshold))
    drawing = (draw_view(view, *settings) if view.key is None
               else _drawings.get((view.key, settings), lambda: draw_view(view, *settings)))
    # compress_level 1 (in draw_view): a live view, the slider redraws it; written atomically.
    gallery = [(str(atomic_write(folder / f"cam-{i}.png", png, durable=False)), caption)
               for i, (png, caption) in enumerate(drawing.gallery)]
    download = str(atomic_write(folder / "cam-overlays.png", drawing.download, durable=False))
    return gr.update(value=gallery, label=drawing.label), drawing.summary, drawing.probabilities, download


def draw_view(view: CamView, k: int, colormap: str, opacity: float, box_mode: str, threshold: float) -> Drawing:
    """The top-k overlays of a CamView: the input as the model saw it, then one overlay per class
    with its box (white) and, for a test image with a known box, the true box (green)."""
    h, w = view.image.shape[1:]
    side = max(h, w) * whole_scale(max(h, w), DISPLAY_SIDE)
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

    return Drawing(
        gallery=[(png_bytes(p, compress_level=1), caption) for p, caption, _ in pictures],
        download=png_bytes(side_by_side([caption_below(p, long) for p, _, long in pictures], gap=4), compress_level=1),
        label=f"{view.label}: top-{k} classes (white box: threshold {threshold:.2f}"
              + (", green: true box)" if view.true_box else ")"),
        summary=summary_text(view, boxes, ious, box_mode, threshold),
        probabilities={name: p for name, p in zip(view.class_names[:k], view.probs[:k])},
    )  # fmt: skip


def summary_text(view: CamView, boxes, ious, box_mode: str, threshold: float) -> str:
    top = f"**{view.class_names[0]}** {view.probs[0]:.1%}"
    truth = ""
    if view.true_label is not None:
        truth = f" (true: {view.true_label} {'✓' if view.true_label == view.class_names[0] else '✗'})"
    lines = [f"**{view.label}** of **{view.model_name}** · top-1: {top}{truth}",
             f"Box around the {'largest region' if box_mode == 'largest' else 'whole area'} above **{threshold:.0%}** "
             f"of the top class's map range: {box_text(boxes[0])}"]
    if ious is not None:
        hit = "localised ✓" if ious[0] >= IOU_MIN and view.true_label == view.class_names[0] else "not localised ✗"
        lines[-1] += (f" · true box {box_text(view.true_box)} · **IoU {ious[0]:.2f}** "
                      f"({hit}: the paper counts IoU ≥ {IOU_MIN} with the right class)")
    if view.method == "Grad-CAM":
        lines.append("Grad-CAM, not CAM: this model's head is not global pooling + one linear layer.")
    if view.true_label is None and view.dataset:  # a picture of the user's, not one of its test images
        lines.append(f"This model was trained on **{view.dataset}** and knows only its {view.classes} classes: "
                     f"a picture unlike those (a photo of a car, say) still gets one of them, often with a "
                     f"confident score. Its test images (below) are what its maps mean most on.")
    return "  \n".join(lines)


EMPTY_VIEW = (gr.update(value=[]), "Choose a model and a picture.", None, None)


# ---------------------------------------------------------------------------------------------
# Localisation accuracy over thresholds
# ---------------------------------------------------------------------------------------------


def localisation_summary(result: LocalisationResult, chosen: float, seconds: float) -> str:
    best = result.best_threshold
    region = "largest region" if result.mode == "largest" else "box around everything above"
    return (
        f"**{result.at(chosen):.1%}** of {result.num_images:,} shapes test images localised at threshold "
        f"**{chosen:.2f}** (right class and IoU ≥ {IOU_MIN} with the true box; {result.method}, {region}). "
        f"Best threshold **{best:.2f}**: {result.at(best):.1%} · the paper's {PAPER_THRESHOLD}: "
        f"{result.at(PAPER_THRESHOLD):.1%} · classification accuracy {result.classification_accuracy:.1%} · "
        f"measured in {seconds:.1f} s."
    )


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
