"""cnnzoo's web app: every tab in one gr.Blocks `demo`. `python app.py` serves it.

Listens on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise.
Each tab lives in ui/<tab>.py and also runs alone (`python -m ui.shapes`); see ui/__init__.py.
"""
from __future__ import annotations

import gradio as gr

from ui import cam_tab, experiments_tab, gan_tab, inside_tab, report_tab, shapes_tab, train_tab, warmup
from ui.common import QUEUE_MAX_SIZE, serve
from ui.i18n import translate

# (tab label, function that builds the tab's gr.Blocks). A new tab is one line here.
TABS = [
    ("Shapes", shapes_tab.build_demo),
    ("Train", train_tab.build_demo),
    ("Inside", inside_tab.build_demo),
    ("CAM", cam_tab.build_demo),
    ("GAN", gan_tab.build_demo),
    ("Experiments", experiments_tab.build_demo),
    ("Report", report_tab.build_demo),
]

INTRO = """
# cnnzoo: the classic CNNs, taken apart
ResNet, Wide ResNet, DenseNet, Inception, CAM, DCGAN and WGAN in plain PyTorch, small enough
to read and to run on a laptop CPU. Look inside a network, train one, see where it looks.
"""


def build_app() -> gr.Blocks:
    # Each tab's Blocks is built on its own first, then rendered into a gr.Tab: render() moves
    # the tab's demo.load events to the app. (A Blocks built *inside* the app's `with` would
    # be nested in place and its load events would never fire.)
    tabs = [(label, build_tab()) for label, build_tab in TABS]
    # delete_cache: overlays, grids and GIFs are files; drop those older than an hour, hourly.
    with gr.Blocks(title="cnnzoo", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        # "wrap": on a phone the tab names take two rows; gradio's default hides the last ones in a ⋯ menu
        with gr.Tabs(overflow_behavior="wrap"):
            for label, tab in tabs:
                with gr.Tab(label):
                    tab.render()
    translate(demo)  # in Korean where the browser asks for it (ui.i18n)
    demo.queue(max_size=QUEUE_MAX_SIZE)
    return demo


demo = build_app()

if __name__ == "__main__":
    warmup.start()  # the tabs' defaults, made in the background: the first students need not wait
    serve(demo)
