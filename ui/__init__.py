"""The web UI: one module per tab, composed by app.py.

Each tab module (ui/shapes.py, later ui/train.py, ui/cam.py, ui/gan.py) follows one pattern:

    def build_demo() -> gr.Blocks:      # builds the tab's components and events
        ...
    demo = build_demo()                  # module-level, for `gradio ui/shapes.py` and tests
    if __name__ == "__main__":
        serve(demo)                      # `python -m ui.shapes` runs the tab alone

- Handlers are named functions, thin adapters over cnnzoo (convert inputs, call the core,
  format outputs), registered with an `api_name=` so gradio_client and tests can call them.
- A ValueError from the core reaches the user through `with user_errors():` (ui/common.py).
- Light events (tracing, CAM, sampling) and heavy ones (training) use separate
  `concurrency_id`s with deliberate `concurrency_limit`s, so light never waits behind heavy.
- Nothing heavy at import: models are built inside handlers.

Adding a tab to the app is one line in app.py's TABS:

    TABS = [("Shapes", shapes.build_demo), ("Train", train.build_demo)]

app.py calls each builder and renders the fresh Blocks inside a gr.Tab; the tab's api_names
and its `demo.load` events carry over into the app (rendering moves load events to the root).
An api_name used by two tabs gets a suffix (`trace_1`), so keep them unique across tabs.
"""
import os

# The server runs several jobs at once on few cores (two trainings, traces, CAMs). OpenMP's
# default busy-waiting threads then fight each other: a GAN step measured 978 ms instead of
# 85 ms with PASSIVE under that contention. Must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
