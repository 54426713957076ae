"""The Experiments tab's "Layer responses" section: the ResNet paper's Figure 7 and its gradient
argument, for a plain and a residual net (cnnzoo.responses).

Models come from the model library (ui.cam_models: shipped, trained on this page, uploaded).
Results are cached per model file for the whole server: a class pressing the button on the
shipped pair computes it once.
"""
from __future__ import annotations

import time

import gradio as gr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnzoo.cache import KeyedCache
from cnnzoo.checkpoints import initial_model
from cnnzoo.responses import gradient_norms, layer_responses
from ui.cam_models import load_network, test_set
from ui.common import user_errors
from ui.sessions import session_for

RESPONSE_IMAGES = 1000  # test images the stds are measured on (all of digits' 360)
GRADIENT_BATCH = 128  # test images of the one batch whose gradients are measured
COLORS = {"plain": "tab:red", "residual": "tab:blue"}

_measured = KeyedCache(max_entries=16)  # model file -> measurement dict


def measure(key: str, role: str, session) -> dict:
    """The responses of a model's 3×3 layers on its test set, and its gradient norms at
    initialisation (rebuilt from the recorded seed) and as trained, on one batch."""
    network = load_network(key, role, session)  # ValueError without a test set here, for a GAN, …
    cm, meta = network.cm, network.meta

    def make():
        ds = test_set(cm)
        started = time.perf_counter()
        images, labels = ds.images[:RESPONSE_IMAGES], ds.labels[:GRADIENT_BATCH]
        stds = layer_responses(cm.model, images, cm.mean, cm.std)
        trained = gradient_norms(cm.model, ds.images[:GRADIENT_BATCH], labels, cm.mean, cm.std)
        initial = gradient_norms(initial_model(meta).to(next(cm.model.parameters()).device),
                                 ds.images[:GRADIENT_BATCH], labels, cm.mean, cm.std)
        return dict(name=cm.name, dataset=cm.dataset, stds=stds, trained=trained, initial=initial,
                    images=len(images), seconds=time.perf_counter() - started)

    return _measured.get(network.identity, make)


def responses_figure(results: dict[str, dict]) -> Figure:
    """Three panels: response std by layer, the same sorted by magnitude, gradient norms (log)."""
    fig = Figure(figsize=(12, 3.9), layout="constrained")
    by_layer, ranked, gradients = fig.subplots(1, 3)
    for role, r in results.items():
        stds = list(r["stds"].values())
        label = f"{role}: {r['name']}"
        layers = range(1, len(stds) + 1)
        by_layer.plot(layers, stds, "o-", color=COLORS[role], markersize=3, label=label)
        ranked.plot(layers, sorted(stds, reverse=True), "o-", color=COLORS[role], markersize=3, label=label)
        gradients.plot(layers, list(r["initial"].values()), "--", color=COLORS[role], label=f"{r['name']} at initialisation")
        gradients.plot(layers, list(r["trained"].values()), "o-", color=COLORS[role], markersize=3,
                       label=f"{r['name']} trained")
    by_layer.set(title="std of each 3×3 layer's response (after BN)", xlabel="layer index", ylabel="std")
    ranked.set(title="the same, sorted by magnitude", xlabel="rank")
    gradients.set(title="‖∂L/∂W‖ of each 3×3 layer, one batch", xlabel="layer index", yscale="log")
    for ax in (by_layer, ranked, gradients):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers and ranks are whole numbers
    return fig


def responses_summary(results: dict[str, dict]) -> str:
    plain, residual = results["plain"], results["residual"]

    def mean_std(r):
        return sum(r["stds"].values()) / len(r["stds"])

    def spread(r, which):
        norms = list(r[which].values())
        return f"{min(norms):.3g} … {max(norms):.3g}"

    ratio = mean_std(residual) / mean_std(plain)
    verdict = ("smaller, as the paper found: the residual branches learn small corrections to the identity"
               if ratio < 1 else "not smaller here: the paper's effect needs nets trained to convergence")
    return (f"On {residual['images']} test images of {residual['dataset']}: the mean response std of "
            f"**{residual['name']}** is **{mean_std(residual):.3f}**, of **{plain['name']}** "
            f"**{mean_std(plain):.3f}**: ×{ratio:.2f}, {verdict}. Gradient norms per 3×3 layer "
            f"(one batch of {GRADIENT_BATCH}): {plain['name']} {spread(plain, 'initial')} at initialisation, "
            f"{spread(plain, 'trained')} trained; {residual['name']} {spread(residual, 'initial')} and "
            f"{spread(residual, 'trained')}: no layer's gradient vanishes (batch norm keeps them healthy), so "
            f"a plain net's trouble is optimisation, not vanishing gradients.")


def layer_responses_handler(plain: str, residual: str, request: gr.Request = None):
    """Figure 7 of the ResNet paper for the `plain` and `residual` models (keys of the model list):
    each 3×3 layer's response std, by layer and sorted, and the gradient norms at initialisation
    and after training. Returns (summary, figure)."""
    session = session_for(request)
    with user_errors():
        results = {role: measure(key, role, session) for role, key in (("plain", plain), ("residual", residual))}
        if results["plain"]["dataset"] != results["residual"]["dataset"]:
            raise ValueError(f"the two models were trained on different data ({results['plain']['dataset']} and "
                             f"{results['residual']['dataset']}): compare nets trained on the same dataset.")
    return responses_summary(results), responses_figure(results)


INTRO = """**Layer responses** (He et al. 2016, Figure 7). If a block's best function is close to the
identity, its residual branch only learns a small correction, so the outputs of its 3×3 layers
(after batch norm, before the addition) vary less than a plain net's. The right panel is the
paper's other point: with batch norm, no layer's gradient vanishes, in the plain net either."""


def responses_section(plain_model: gr.Dropdown, residual_model: gr.Dropdown, concurrency: dict) -> dict:
    """The section's components, wired to the two model dropdowns it compares."""
    c = {}
    with gr.Accordion("Layer responses: why residual layers learn small corrections", open=True,
                      elem_id="responses-section"):
        gr.Markdown(INTRO + " Measured on the plain and residual networks chosen above.")
        c["responses_btn"] = gr.Button("measure the layer responses", variant="primary", elem_id="responses-run")
        c["responses_summary"] = gr.Markdown(elem_id="responses-summary")
        c["responses_plot"] = gr.Plot(label="layer responses", show_label=False, format="png",
                                      elem_id="responses-plot", elem_classes="cnnzoo-wide")
    c["responses_btn"].click(layer_responses_handler, [plain_model, residual_model],
                             [c["responses_summary"], c["responses_plot"]], api_name="layer_responses", **concurrency)
    return c
