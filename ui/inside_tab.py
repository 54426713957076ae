"""The Inside tab: what each layer of a trained network sees. Pick a layer in the trace table (the
map of the network), see its feature maps for a picture and its filters, the picture's path
through the stages, and, for one channel, the test images that excite it most.

Run alone with `python -m ui.inside_tab`; app.py renders `build_demo()` as a tab.

Handlers adapt cnnzoo.inside; the pictures are ui/inside_view.py's. Models are the CAM tab's
(ui.cam_models): shipped, trained on this page, uploaded, or torchvision's ImageNet ResNets when
their weights are on disk. A channel's favourite test images need one pass over the test set:
its per-channel maxima are cached for the whole server per (model file, layer), so a second
channel of the same layer, or a second student, answers at once.
"""
from __future__ import annotations

import random
import time

import gradio as gr
import torch

from cnnzoo.cache import KeyedCache
from cnnzoo.compute import normalize
from cnnzoo.data import load_image
from cnnzoo.inside import channel_maxima, conv_filters, layer_outputs, rank_channels, stage_names
from cnnzoo.trace import ROOT_NAME, trace
from ui.cam_models import (
    MODELS, CamModel, example_file, model_choices, model_identity, model_text, refresh_models, resolve_model,
    test_set,
)  # fmt: skip
from ui.i18n import say
from ui.common import LIGHT, Outputs, controls_and_view, picture_input, serve, user_errors
from ui.inside_view import (
    filter_picture, layer_rows, map_tiles, maps_summary, path_figure, top_image_tiles,
)  # fmt: skip
from ui.sessions import detach_page, page_load, session_for

# One picture through one network: milliseconds to a second; many at once, never behind training.
INSIDE_CONCURRENCY = dict(concurrency_id="inside", concurrency_limit=4)
# Top images run the whole test set once per (model, layer): a couple at a time.
TOP_CONCURRENCY = dict(concurrency_id="top_images", concurrency_limit=2)
TOP_K = 9
SCALES = [("one scale for the layer", "layer"), ("each channel its own", "channel")]

VIEW = ("summary", "maps", "filters", "filters_note", "path", "shown")
VIEW_OUTPUTS = Outputs(*VIEW)
MODEL_OUTPUTS = Outputs("model_info", "layer", "names", "table", "image", *VIEW)
TOP_OUTPUTS = Outputs("top_summary", "top_images")

_traces = KeyedCache(max_entries=16)  # model identity -> (trace rows, layer names)
_maxima = KeyedCache(max_entries=16, max_bytes=400_000_000, size=lambda m: m.nbytes)  # (model, layer) -> ChannelMaxima


def layers_of(cm: CamModel, identity) -> tuple[list[list], list[str]]:
    """The model's trace table rows and the names of its layers in the order they run."""
    def make():
        result = trace(cm.model, cm.input_size, device=str(next(cm.model.parameters()).device))
        names = list(dict.fromkeys(row.name for row in result.rows if row.name != ROOT_NAME))
        return layer_rows(result), names
    return _traces.get(identity, make)


def default_layer(names: list[str], cm: CamModel) -> str:
    """The first convolution: its filters are the easiest to read (colours and edges)."""
    modules = dict(cm.model.named_modules())
    return next((n for n in names if isinstance(modules.get(n), torch.nn.Conv2d)), names[0])


# ---------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------


def activations(model: str, image: str | None, layer: str, scale: str = "layer", request: gr.Request = None):
    """Layer `layer` of `model` (a key from the model list) on `image` (a file path): its feature
    maps (most active first), its filters when it is a convolution, and the picture's path
    through the network's stages to the class probabilities.

    Returns (summary, maps gallery, filters picture, filters note, path figure, shown channels).
    """
    if image is None:
        raise gr.Error(say("Choose a picture: press 'test image', or upload one."))
    if scale not in ("layer", "channel"):
        raise gr.Error(f"scale must be 'layer' or 'channel', got {scale!r}.")
    with user_errors():
        cm = resolve_model(model, session_for(request))
        picture = load_image(image, channels=cm.input_size[0], size=cm.input_size[-1])  # (C, side, side) uint8
        return VIEW_OUTPUTS(**layer_view(cm, picture, layer, scale))


def layer_view(cm: CamModel, picture: torch.Tensor, layer: str, scale: str) -> dict:
    """The view outputs by name of `layer` for one uint8 picture (C, H, W) at the model's input size:
    one forward pass catches the layer and every stage (benchmarks/inside.py times this)."""
    stages = stage_names(cm.model)
    device = next(cm.model.parameters()).device
    x = normalize(picture[None].to(device), cm.mean, cm.std)
    outputs = layer_outputs(cm.model, x, list(dict.fromkeys([layer, *stages])))
    fm = rank_channels(cm.model, layer, outputs[layer])
    tiles = map_tiles(fm, scale)
    if fm.layer_type == "Conv2d":
        filters, note = filter_picture(conv_filters(cm.model, layer), fm.order)
    else:
        filters, note = None, f"*{layer} is a {fm.layer_type}: it has no filters. Choose a Conv2d row.*"
    probabilities = outputs["logits"][0].float().softmax(0).cpu()
    figure = path_figure(picture, outputs, stages, probabilities, cm.class_names, cm.name)
    return dict(summary=maps_summary(fm, cm.name), maps=tiles, filters=filters, filters_note=note, path=figure,
                shown={"layer": layer, "channels": fm.order[:len(tiles)].tolist()})


def top_images(model: str, layer: str, channel: int, request: gr.Request = None):
    """The test images of the model's dataset whose channel `channel` of `layer` fires most, each with
    that channel's map over it. Returns (summary, gallery)."""
    session = session_for(request)
    with user_errors():
        cm = resolve_model(model, session)
        ds = test_set(cm)
        if ds is None:
            raise ValueError(f"{cm.name} has no test set on this machine (it was trained on "
                             f"{cm.dataset or 'ImageNet or a folder'}): top images need one.")
        started = time.perf_counter()
        best = _maxima.get((model_identity(model, session), layer),
                           lambda: channel_maxima(cm.model, ds.images, layer, cm.mean, cm.std))
        hits = best.top(channel if isinstance(channel, int) else int(channel), TOP_K)
        seconds = time.perf_counter() - started
        indices = [index for index, _, _ in hits]
        device = next(cm.model.parameters()).device
        caught = layer_outputs(cm.model, normalize(ds.images[indices].to(device), cm.mean, cm.std), [layer])[layer]
        maps = caught[:, channel].float().cpu() if caught.dim() == 4 else caught[:, channel, None, None].float().cpu()
        tiles = top_image_tiles(ds.images[indices], maps, hits, ds.class_names, ds.labels)
    classes = [ds.class_names[int(ds.labels[i])] for i in indices]
    common = max(set(classes), key=classes.count)
    summary = (f"**Channel {channel} of {layer}**: the {len(tiles)} of {len(ds):,} test images of {cm.dataset} where it "
               f"fires most, with its map over each (captions: test image, class, the channel's maximum); "
               f"{classes.count(common)} of {len(tiles)} are *{common}*. "
               f"{'Computed' if seconds > 0.05 else 'From the cache'} in {seconds:.2f} s.")
    return TOP_OUTPUTS(top_summary=summary, top_images=tiles)


def select_model(model: str, scale: str = "layer", request: gr.Request = None):
    """The model's layers (its trace table), a test image of its dataset, and its first convolution."""
    session = session_for(request)
    if not model:
        return MODEL_OUTPUTS(model_info="No model yet: train one in the Train tab, or upload a checkpoint.",
                             layer=gr.update(choices=[], value=None), names=[], table=[], image=None,
                             **dict.fromkeys(VIEW, None))
    with user_errors():
        cm = resolve_model(model, session)
        rows, names = layers_of(cm, model_identity(model, session))
    ds = test_set(cm)
    image = example_file(ds, 0) if ds is not None else None
    layer = default_layer(names, cm)
    view = dict.fromkeys(VIEW, None) if image is None else dict(zip(VIEW, activations(model, image, layer, scale, request)))
    return MODEL_OUTPUTS(model_info=model_text(cm), layer=gr.update(choices=names, value=layer), names=names,
                         table=rows,
                         image=image, **view)


def open_tab(scale, request: gr.Request):
    """On page load: the model list, and the shipped default's first layer."""
    choices = model_choices(session_for(request))
    model = choices[0][1] if choices else None
    return gr.update(choices=choices, value=model), *select_model(model, scale, request)


def upload_checkpoint(checkpoint: str | None, scale: str, request: gr.Request):
    """Keep an uploaded .safetensors checkpoint for this page (the CAM tab lists it too) and open it."""
    if checkpoint is None:
        raise gr.Error(say("Choose a .safetensors checkpoint file (the Train tab's download)."))
    session = session_for(request)
    with user_errors():
        key = MODELS.keep_upload(session, checkpoint)
    return gr.update(choices=model_choices(session), value=key), *select_model(key, scale, request)


def random_image(model: str, layer: str, scale: str, request: gr.Request):
    """A random test image of the model's dataset, and the layer's view of it."""
    with user_errors():
        ds = test_set(resolve_model(model, session_for(request)))
    if ds is None:
        raise gr.Error("No test images of this model's dataset on this machine: upload a picture instead.")
    image = example_file(ds, random.randrange(len(ds)))
    return image, *activations(model, image, layer, scale, request)


def pick_layer(names: list, evt: gr.SelectData):
    """A click on a row of the layer table chooses that row's layer."""
    name = (evt.row_value or [None, None])[1]
    if name not in names:
        raise gr.Error(f"{name!r} is a step of the model's own code, not a layer: choose another row.")
    return name


def pick_channel(shown: dict | None, evt: gr.SelectData) -> int:
    """A click on a feature-map tile chooses its channel."""
    channels = (shown or {}).get("channels") or []
    if not 0 <= evt.index < len(channels):
        raise gr.Error("These maps belong to another layer: choose the layer again.")
    return channels[evt.index]


# ---------------------------------------------------------------------------------------------
# Layout and events
# ---------------------------------------------------------------------------------------------


INTRO = """**Look inside a network.** Each row of the table is a layer, in the order the picture
meets them: click one to see what it makes of the picture, one small map per channel (the most
active first), and for a convolution the filters it slides over its input. Click a map to find
the test images that channel likes best."""


def controls() -> dict:
    c = {}
    with gr.Row(equal_height=True):
        c["model"] = gr.Dropdown([], label="model", allow_custom_value=True, scale=5, elem_id="inside-model")
        c["refresh"] = gr.Button("↻ list", scale=0, min_width=70, size="sm")
    c["model_info"] = gr.Markdown(elem_id="inside-model-info")
    with gr.Accordion("your own checkpoint", open=False):
        c["checkpoint"] = gr.File(label="checkpoint (.safetensors, from the Train tab)", file_types=[".safetensors"])
    c["image"] = picture_input(label="picture", sources=["upload", "webcam", "clipboard"], type="filepath",
                               image_mode=None, height=160, elem_id="inside-image")
    c["random_btn"] = gr.Button("test image", elem_id="inside-random")
    c["layer"] = gr.Dropdown([], label="layer", filterable=True, allow_custom_value=True, elem_id="inside-layer")
    c["scale"] = gr.Radio(SCALES, value="layer", label="colours")
    c["table"] = gr.Dataframe(headers=["#", "layer", "type", "output (C × H × W)"], interactive=False,
                              max_height=420, label="layers (click a row)", elem_id="inside-table",
                              elem_classes="cnnzoo-table", show_search="search")
    return c


def view() -> dict:
    c = {"summary": gr.Markdown("Choose a model and a picture.", elem_id="inside-summary")}
    c["maps"] = gr.Gallery(label="feature maps (click one for its top test images)", columns=8, height=340, format="png",
                           object_fit="contain", allow_preview=False, elem_id="inside-maps",
                           elem_classes="cnnzoo-tiles")
    with gr.Row():
        c["filters"] = gr.Image(label="filters", interactive=False, height=220, elem_id="inside-filters")
    c["filters_note"] = gr.Markdown()
    c["path"] = gr.Plot(label="the picture's path", show_label=False, format="png", elem_id="inside-path")
    with gr.Row(equal_height=True):
        c["channel"] = gr.Number(0, label="channel", precision=0, minimum=0, min_width=90, elem_id="inside-channel")
        c["top_btn"] = gr.Button("top test images of this channel", elem_id="inside-top")
    c["top_summary"] = gr.Markdown(elem_id="inside-top-summary")
    c["top_images"] = gr.Gallery(label="where the channel fires most", columns=5, height="auto", object_fit="contain", format="png",
                                 allow_preview=False, elem_id="inside-top-images", elem_classes="cnnzoo-tiles")
    return c


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · inside") as demo:
        gr.Markdown(INTRO)
        c = {"shown": gr.State(None), "names": gr.State([])}
        c.update(controls_and_view(controls, view, min_width=300, view_scale=2))
        model, layer, scale = c["model"], c["layer"], c["scale"]
        look = dict(fn=activations, inputs=[model, c["image"], layer, scale], outputs=VIEW_OUTPUTS.of(c),
                    **INSIDE_CONCURRENCY)
        model_outputs = MODEL_OUTPUTS.of(c)
        page_load(demo).then(open_tab, scale, [model, *model_outputs], api_visibility="private", **INSIDE_CONCURRENCY)
        model.input(select_model, [model, scale], model_outputs, api_name="inside_select_model", **INSIDE_CONCURRENCY)
        c["refresh"].click(refresh_models, model, model, api_name="inside_models", **LIGHT)
        model.focus(refresh_models, model, model, api_visibility="private", **LIGHT)
        c["checkpoint"].upload(upload_checkpoint, [c["checkpoint"], scale], [model, *model_outputs],
                               api_name="inside_upload_checkpoint", **INSIDE_CONCURRENCY)
        gr.on([layer.input, scale.input, c["image"].input], **look, api_name="activations", trigger_mode="always_last")
        c["random_btn"].click(random_image, [model, layer, scale], [c["image"], *VIEW_OUTPUTS.of(c)],
                              api_name="inside_random_image", **INSIDE_CONCURRENCY)
        c["table"].select(pick_layer, c["names"], layer, api_visibility="private", **LIGHT).success(
            **look, api_visibility="private")
        find = dict(fn=top_images, inputs=[model, layer, c["channel"]], outputs=TOP_OUTPUTS.of(c), **TOP_CONCURRENCY)
        c["top_btn"].click(**find, api_name="top_images")
        c["maps"].select(pick_channel, c["shown"], c["channel"], api_visibility="private", **LIGHT).success(
            **find, api_visibility="private")
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
