"""The CAM tab: where a network looks when it names a class, and the box that follows.

Run alone with `python -m ui.cam_tab`; app.py renders `build_demo()` as a tab.

Handlers adapt cnnzoo.cam (Zhou et al. 2016). One forward pass computes the maps of the five
most probable classes; they are kept per page (gr.State), so the threshold, colour map,
opacity and top-k controls only redraw boxes and overlays (ui/cam_view.py), never the network:
dragging the threshold moves the box live. Which test image is in the picture box, if any, is
kept in gr.State too (`probe`), so its true label and box are known without guessing from a
file name. Models come from checkpoints/ (shipped), the Train tab of this page, an upload
(ui.library), or torchvision's ImageNet weights when their file is on disk; nothing loads at
import.
"""
from __future__ import annotations

import html
import random
import re
import time
from pathlib import Path

import gradio as gr
import torch

from cnnzoo import checkpoints
from cnnzoo.cache import KeyedCache
from cnnzoo.cam import CURVE_THRESHOLDS, PAPER_THRESHOLD, localisation_accuracy
from cnnzoo.data import load_dataset, load_image
from cnnzoo.viz import enlarge, save_png, whole_scale
from ui.cam_models import (
    EXAMPLES_DIR, MODELS, SMALL_IMAGE_THRESHOLD, CamModel, example_file, imagenet_note, model_choices,
    model_identity, model_text, refresh_models, resolve_model, test_set,
)  # fmt: skip
from ui.cam_view import (
    EMPTY_VIEW, IOU_MIN, MAX_TOP_K, compute_view, localisation_figure, localisation_summary, localisation_table,
    render_view,
)  # fmt: skip
from ui.i18n import say
from ui.common import LIGHT, Outputs, controls_and_view, picture_input, serve, user_errors
from ui.sessions import Session, detach_page, page_load, session_for

# A CAM is a batch-1 forward pass (milliseconds): many at once, never queued behind training.
CAM_CONCURRENCY = dict(concurrency_id="cam", concurrency_limit=4)
# Localisation runs the whole shapes test set (seconds of CPU): a couple at a time, results cached.
LOCALISATION_CONCURRENCY = dict(concurrency_id="localisation", concurrency_limit=2)

COLORMAPS = ["jet", "inferno", "viridis", "turbo", "magma"]
EXAMPLES_PER_MODEL = 10
LOCALISATION_IMAGES: int | None = None  # None: the whole shapes test set (2,000 images)

# What the events update, by name (ui.common.Outputs).
VIEW = ("overlays", "summary", "probabilities", "download", "view")
CAM_OUTPUTS = Outputs(*VIEW)
PICK_OUTPUTS = Outputs("image", *VIEW, "probe")
MODEL_OUTPUTS = Outputs("model_info", "examples", "example_indices", "threshold", "image", *VIEW, "card", "probe")


# ---------------------------------------------------------------------------------------------
# Test images of the model's dataset (examples, with true boxes for shapes)
# ---------------------------------------------------------------------------------------------


def example_gallery(cm: CamModel) -> tuple[list[tuple[str, str]], list[int]]:
    """Thumbnails (one test image of each class, enlarged by whole pixels) and their test indices."""
    ds = test_set(cm)
    if ds is None:
        return [], []
    indices = [int(hits[0]) for c in range(ds.num_classes) if len(hits := (ds.labels == c).nonzero())]
    indices = indices[:EXAMPLES_PER_MODEL]
    side = ds.image_size[0]
    items = []
    for i in indices:
        path = EXAMPLES_DIR / f"{ds.name}-{side}" / f"thumb-{i:05d}.png"
        if not path.exists():
            save_png(enlarge(ds.images[i].permute(1, 2, 0), whole_scale(side, 96)), path)
        items.append((str(path), ds.class_names[ds.labels[i]]))
    return items, indices


def probe_of(cm: CamModel, index: int) -> dict:
    """What the probe state holds while test image `index` of the model's dataset is in the picture box."""
    return {"dataset": cm.dataset, "size": cm.dataset_size, "index": int(index)}


def known_truth(cm: CamModel, probe: dict | None, image: torch.Tensor) -> tuple[int, list[float] | None] | None:
    """(true label, true box or None) when the picture is the test image the tab put in the box
    (probe), pixel for pixel; None for anything else, so no upload gets a box it does not have."""
    if not probe or (probe["dataset"], probe["size"]) != (cm.dataset, cm.dataset_size):
        return None
    ds, i = test_set(cm), probe["index"]
    if ds is None or i >= len(ds) or ds.images[i].shape != image.shape or not torch.equal(ds.images[i], image):
        return None
    return int(ds.labels[i]), (ds.boxes[i].tolist() if ds.boxes is not None else None)


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def view_values(view, top_k, colormap, opacity, box_mode, threshold, session: Session) -> dict:
    """The view outputs by name for a computed CamView (no forward pass)."""
    overlays, summary, probabilities, download = render_view(view, top_k, colormap, opacity, box_mode, threshold,
                                                             session.subfolder("cam"))
    return dict(overlays=overlays, summary=summary, probabilities=probabilities, download=download, view=view)


def cam(model: str, image: str | None, top_k: int = 3, colormap: str = "jet", opacity: float = 0.5,
        box_mode: str = "largest", threshold: float = SMALL_IMAGE_THRESHOLD, probe: dict | None = None,
        request: gr.Request = None):
    """CAM of `image` (a file path) for the top-k classes of `model` (a key from the model list).

    Returns (overlays gallery, summary, probabilities, overlay PNG to download); the maps are kept
    for this page, so cam_redraw changes threshold / colours without running the model again.
    """
    if image is None:
        raise gr.Error(say("Upload a picture (or take one with the webcam), or press 'random test image'."))
    session = session_for(request)
    with user_errors():
        cm = resolve_model(model, session)
        picture = load_image(image, channels=cm.input_size[0], size=cm.input_size[-1])  # (C, side, side) uint8
        view = compute_view(cm, picture, known_truth(cm, probe, picture), model_identity(model, session))
        return CAM_OUTPUTS(**view_values(view, top_k, colormap, opacity, box_mode, threshold, session))


def cam_redraw(top_k, colormap, opacity, box_mode, threshold, view=None, request: gr.Request = None):
    """Redraw the last CAM of this page with other display settings (no forward pass)."""
    if view is None:
        return EMPTY_VIEW
    with user_errors():
        values = view_values(view, top_k, colormap, opacity, box_mode, threshold, session_for(request))
    return tuple(values[name] for name in VIEW[:4])


def cam_on_upload(model, image, top_k, colormap, opacity, box_mode, threshold, request: gr.Request):
    """A new picture in the box (an upload, the webcam): its CAM, and no test image is the probe
    any more; a cleared box clears the view."""
    if image is None:
        return (*EMPTY_VIEW, None, None)
    return (*cam(model, image, top_k, colormap, opacity, box_mode, threshold, None, request), None)


def show_example(model: str, index: int, settings: tuple, request) -> tuple:
    """Test image `index` of the model's dataset in the picture box, as the probe, and its CAM."""
    cm = resolve_model(model, session_for(request))
    ds = test_set(cm)
    image, probe = example_file(ds, index), probe_of(cm, index)
    return PICK_OUTPUTS(image=image, probe=probe, **dict(zip(VIEW, cam(model, image, *settings, probe, request))))


def select_model(model: str, top_k, colormap, opacity, box_mode, request: gr.Request):
    """Show the model, its test images, its default threshold, and the CAM of its first example."""
    session = session_for(request)
    if not model:
        return no_model_outputs()
    with user_errors():
        cm = resolve_model(model, session)
    items, indices = example_gallery(cm)
    threshold = cm.default_threshold
    if indices:
        shown = dict(zip(PICK_OUTPUTS.names, show_example(model, indices[0], (top_k, colormap, opacity, box_mode, threshold), request)))
    else:
        shown = dict(zip(VIEW, EMPTY_VIEW), view=None, image=None, probe=None)
        shown["summary"] = "Upload a picture to see its class activation maps."
    label = f"test images of {cm.dataset} (click one)" if items else "no test images for this model here: upload a picture"
    return MODEL_OUTPUTS(model_info=model_text(cm), examples=gr.update(value=items, label=label), example_indices=indices,
                         threshold=threshold, card=card_text(model), **shown)


def no_model_outputs():
    text = ("No model yet. Train one in the **Train** tab (dataset *shapes* gives true boxes), then press ↻; "
            "or upload a checkpoint below. " + imagenet_note())
    return MODEL_OUTPUTS(model_info=text, examples=gr.update(value=[], label="test images"), example_indices=[],
                         threshold=SMALL_IMAGE_THRESHOLD, image=None, view=None, card="", probe=None,
                         **dict(zip(VIEW, EMPTY_VIEW)))


def open_tab(top_k, colormap, opacity, box_mode, request: gr.Request):
    """On page load: the list of models (shipped, this page's, ImageNet if on disk) and the default's view."""
    choices = model_choices(session_for(request))
    model = choices[0][1] if choices else None
    return (gr.update(choices=choices, value=model), imagenet_note(),
            *select_model(model, top_k, colormap, opacity, box_mode, request))


def upload_checkpoint(checkpoint: str | None, top_k, colormap, opacity, box_mode, request: gr.Request):
    """Keep an uploaded .safetensors checkpoint for this page only, check it, and select it."""
    if checkpoint is None:
        raise gr.Error(say("Choose a .safetensors checkpoint file (the Train tab's download)."))
    session = session_for(request)
    with user_errors():
        key = MODELS.keep_upload(session, checkpoint)
    return (gr.update(choices=model_choices(session), value=key), *select_model(key, top_k, colormap, opacity, box_mode, request))


def random_example(model: str, top_k, colormap, opacity, box_mode, threshold, request: gr.Request):
    """A random image of the model's test set (with its true box for shapes) and its CAM."""
    with user_errors():
        cm = resolve_model(model, session_for(request))
    ds = test_set(cm)
    if ds is None:
        raise gr.Error(f"No test images of this model's dataset ({html.escape(str(cm.dataset))}) on this "
                       f"machine: upload a picture instead.")
    with user_errors():
        return show_example(model, random.randrange(len(ds)), (top_k, colormap, opacity, box_mode, threshold), request)


def pick_example(model, indices, top_k, colormap, opacity, box_mode, threshold, evt: gr.SelectData, request: gr.Request):
    """A click on a test-image thumbnail: that image and its CAM."""
    with user_errors():
        cm = resolve_model(model, session_for(request))
    if test_set(cm) is None or not indices or not 0 <= evt.index < len(indices):
        raise gr.Error(say("These test images belong to another model: choose the model again."))
    with user_errors():
        return show_example(model, indices[evt.index], (top_k, colormap, opacity, box_mode, threshold), request)


_localisations = KeyedCache(max_entries=16)  # (model file, images, thresholds, mode) -> (result, seconds)


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

        def measure():
            ds = load_dataset("shapes", "test", image_size=cm.dataset_size)
            started = time.perf_counter()
            result = localisation_accuracy(cm.model, ds, thresholds, mode=box_mode, mean=cm.mean, std=cm.std,
                                           limit=LOCALISATION_IMAGES, iou_min=IOU_MIN)
            return result, time.perf_counter() - started

        key = (model_identity(model, session), LOCALISATION_IMAGES, thresholds, box_mode)
        result, seconds = _localisations.get(key, measure)
    return (localisation_summary(result, chosen, seconds), localisation_figure(result, chosen, cm.name),
            localisation_table(result), result.best_threshold)


def card_text(model: str | None) -> str:
    """The shipped checkpoint's card (checkpoints/<name>.md) and any card with a GAP vs GMP measurement.

    Headings are moved two levels down so a card reads as a section of the tab.
    """
    folder = checkpoints.CHECKPOINT_DIR
    source, _, name = (model or "").partition(":")
    own = folder / (Path(name).stem + ".md") if source == "shipped" else None
    cards = [own] if own is not None and own.is_file() else []
    if folder.is_dir():
        cards += [card for card in sorted(folder.glob("*.md")) if card != own and "GMP" in card.read_text(encoding="utf-8")]
    parts = []
    for card in cards:
        text = re.sub(r"^(#{1,4}) ", r"\1## ", card.read_text(encoding="utf-8"), flags=re.M)
        parts.append(f"**From the card `checkpoints/{card.name}`:**\n\n{text}")
    return "\n\n---\n\n".join(parts)


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
whole object; with global *max* pooling only the strongest location counts, so the maps mark the
most telling spot. The paper found GAP localises better; measure it here on a GAP and a GMP
model (train `simple_cnn` on *shapes* with pooling *max* in the Train tab). On the shipped
shapes nets GAP wins at its own best threshold, but at the paper's 20% its maps spread past the
object and boxes come out too *large* (checkpoints/simple-shapes-cam.md).
The threshold keeps the map above min + t·(max − min), as the authors' released code does
after it min-max normalises the map (the paper says "20% of the max value"). The paper used
20% for all its nets, whatever their map size (13×13 to 14×14 on 224-pixel images); that a
smaller 8×8 map wants a higher one is this project's finding: the curve shows which.
"""


def model_column() -> dict:
    c = {}
    with gr.Row(equal_height=True):
        c["model"] = gr.Dropdown([], label="model", allow_custom_value=True, scale=5, elem_id="cam-model")
        c["refresh"] = gr.Button("↻ list", scale=0, min_width=70, size="sm")
    c["model_info"] = gr.Markdown(label="model", elem_id="cam-model-info")
    with gr.Accordion("your own checkpoint, ImageNet models", open=False):
        c["checkpoint"] = gr.File(label="checkpoint (.safetensors, from the Train tab)", file_types=[".safetensors"])
        c["imagenet_info"] = gr.Markdown()
    c["image"] = picture_input(label="picture (upload, webcam or paste)", sources=["upload", "webcam", "clipboard"],
                               type="filepath", image_mode=None, height=170, elem_id="cam-image")
    with gr.Row():
        c["random_btn"] = gr.Button("random test image", elem_id="cam-random")
        c["run_btn"] = gr.Button("compute CAM", variant="primary")
    return c


def view_column() -> dict:
    c = {"summary": gr.Markdown("Choose a model and a picture.", label="summary", elem_id="cam-summary")}
    c["overlays"] = gr.Gallery(label="class activation maps", columns=4, height="auto", object_fit="contain",
                               elem_id="cam-overlays", elem_classes="cnnzoo-captions")
    with gr.Row():
        c["threshold"] = gr.Slider(0.05, 0.95, value=SMALL_IMAGE_THRESHOLD, step=0.05, elem_id="cam-threshold",
                                   label="box threshold (fraction of the map's range)",
                                   info=f"the paper uses {PAPER_THRESHOLD}; small maps like a higher one")
        c["opacity"] = gr.Slider(0, 1, value=0.5, step=0.05, label="heatmap opacity")
    with gr.Row():
        c["colormap"] = gr.Dropdown(COLORMAPS, value="jet", label="colour map", min_width=100)
        c["top_k"] = gr.Slider(1, MAX_TOP_K, value=3, step=1, label="top-k classes", min_width=140)
        c["box_mode"] = gr.Radio([("largest region (paper)", "largest"), ("everything above", "all")],
                                 value="largest", label="box around", min_width=180)
    with gr.Row():
        c["probabilities"] = gr.Label(label="probabilities", num_top_classes=MAX_TOP_K, show_heading=False,
                                      elem_id="cam-probs")
        c["download"] = gr.File(label="download the overlays (PNG)", interactive=False)
    return c


def localisation_section() -> dict:
    c = {}
    with gr.Accordion("Localisation accuracy: how often is the box right?", open=False):
        gr.Markdown(GAP_VS_GMP)
        with gr.Row():
            c["measure_btn"] = gr.Button("measure on the shapes test set", variant="primary")
            c["use_best_btn"] = gr.Button("use the best threshold", interactive=False)
        c["best_threshold"] = gr.State(None)
        c["loc_summary"] = gr.Markdown(label="localisation summary", elem_id="cam-localisation")
        c["loc_plot"] = gr.Plot(label="localisation accuracy over thresholds", format="png", elem_id="cam-localisation-plot")
        c["loc_table"] = gr.Dataframe(label="over thresholds", interactive=False)
        c["card"] = gr.Markdown()
    return c


def best_button(best):
    return gr.update(interactive=best is not None,
                     value=f"use the best threshold ({best:.2f})" if best is not None else "use the best threshold")


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · CAM") as demo:
        gr.Markdown(INTRO)
        c = {"view": gr.State(None), "example_indices": gr.State([]), "probe": gr.State(None)}
        c.update(controls_and_view(model_column, view_column, min_width=300))
        # Gallery tiles are at least 100 px wide: ten test images need the page's whole width.
        c["examples"] = gr.Gallery(label="test images", columns=EXAMPLES_PER_MODEL, height=150, allow_preview=False,
                                   elem_id="cam-examples")
        c.update(localisation_section())

        def by_name(*names):
            return [c[name] for name in names]

        display = by_name("top_k", "colormap", "opacity", "box_mode")
        settings = [*display, c["threshold"]]
        model_outputs = MODEL_OUTPUTS.of(c)
        page_load(demo).then(open_tab, display, [*by_name("model", "imagenet_info"), *model_outputs],
                             api_visibility="private", **CAM_CONCURRENCY)
        c["model"].input(select_model, [c["model"], *display], model_outputs, api_name="cam_select_model", **CAM_CONCURRENCY)
        c["refresh"].click(refresh_models, c["model"], c["model"], api_name="cam_models", **LIGHT)
        # Opening the list lists models trained on the page since it loaded (no ↻ needed).
        c["model"].focus(refresh_models, c["model"], c["model"], api_visibility="private", **LIGHT)
        c["checkpoint"].upload(upload_checkpoint, [c["checkpoint"], *display], [c["model"], *model_outputs],
                               api_name="cam_upload_checkpoint", **CAM_CONCURRENCY)

        c["run_btn"].click(cam, [c["model"], c["image"], *settings, c["probe"]], CAM_OUTPUTS.of(c), api_name="cam",
                           **CAM_CONCURRENCY)
        c["image"].input(cam_on_upload, [c["model"], c["image"], *settings], [*CAM_OUTPUTS.of(c), c["probe"]],
                         api_visibility="private", trigger_mode="always_last", **CAM_CONCURRENCY)
        c["random_btn"].click(random_example, [c["model"], *settings], PICK_OUTPUTS.of(c),
                              api_name="cam_random_example", **CAM_CONCURRENCY)
        c["examples"].select(pick_example, [c["model"], c["example_indices"], *settings], PICK_OUTPUTS.of(c),
                             api_visibility="private", **CAM_CONCURRENCY)
        # Display controls redraw from the kept maps: live while the slider moves.
        redraw = dict(fn=cam_redraw, inputs=[*settings, c["view"]], outputs=CAM_OUTPUTS.of(c)[:4], **CAM_CONCURRENCY)
        gr.on([c[name].input for name in ("threshold", "opacity", "top_k", "colormap", "box_mode")], **redraw,
              api_name="cam_redraw", trigger_mode="always_last", show_progress="hidden")

        measure = c["measure_btn"].click(localisation, by_name("model", "box_mode", "threshold"),
                                         by_name("loc_summary", "loc_plot", "loc_table", "best_threshold"),
                                         api_name="localisation", **LOCALISATION_CONCURRENCY)
        measure.then(best_button, c["best_threshold"], c["use_best_btn"], api_visibility="private", **LIGHT)
        c["use_best_btn"].click(lambda best, current: best if best is not None else current,
                                by_name("best_threshold", "threshold"), c["threshold"], api_visibility="private",
                                **LIGHT).then(**redraw, api_visibility="private")
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
