"""The web UI: one module per tab, composed by app.py, and what the tabs share.

    shapes_tab.py (+ calculator.py)  train_tab.py  inside_tab.py (+ inside_view.py)
    cam_tab.py (+ cam_models.py, cam_view.py)  gan_tab.py (+ gan_generate.py)
    experiments_tab.py (+ experiments_view.py, degradation_section.py, responses_section.py)
    calculator.py  the trace as a calculator (meta-device traces, the time-per-epoch estimate),
                   shared by the Shapes and Train tabs
    common.py      errors, number fields, concurrency settings, outputs by name, the LinePlot
                   reset, the layout of a tab, the model-knob controls, how a server starts
    sessions.py    what one browser owns (runs, uploads, its training job and Stop), kept across
                   reloads by a key in the browser's localStorage
    jobs.py        training that outlives the page: a thread per run, server-wide slots
    gpu.py         training where the GPU is: in this process, or in chunks of @spaces.GPU calls
                   on a ZeroGPU Space (and a forked stand-in of those calls for tests)
    library.py     the models a page may choose from: shipped, trained on the page, uploaded

Each tab module follows one pattern:

    def build_demo() -> gr.Blocks:      # builds the tab's components and events
        ...
    demo = build_demo()                  # module-level, for `gradio ui/shapes_tab.py` and tests
    if __name__ == "__main__":
        serve(demo)                      # `python -m ui.shapes_tab` runs the tab alone

- Handlers are named functions, thin adapters over cnnzoo (convert inputs, call the core,
  format outputs), registered with an `api_name=` so gradio_client and tests can call them.
  A handler with many inputs takes the form as keyword arguments (`inputs_kwargs=`: the API
  names its parameters by the same names) and says which outputs it updates by name
  (ui.common.Outputs). No tab imports another tab: what two need lives in this package once.
- A ValueError from the core reaches the user through `with user_errors():` (ui/common.py).
- Light events (tracing, CAM, sampling) and heavy ones (training) use separate
  `concurrency_id`s with deliberate `concurrency_limit`s, so light never waits behind heavy.
- Nothing heavy at import: models are built inside handlers.

Adding a tab to the app is one line in app.py's TABS:

    TABS = [("Shapes", shapes_tab.build_demo), ("Train", train_tab.build_demo)]

app.py calls each builder and renders the fresh Blocks inside a gr.Tab; the tab's api_names
and its `demo.load` events carry over into the app (rendering moves load events to the root).
An api_name used by two tabs gets a suffix (`trace_1`), so keep them unique across tabs.
"""
import os

# Busy-waiting OpenMP threads fight each other when a server runs several jobs at once on few
# cores (two trainings, traces, CAMs): let idle threads sleep. (Measured: a GAN step took 978 ms
# with the default policy under such contention, 85 ms with PASSIVE.) Must be set before torch
# loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# A Space says how many cores it has in CPU_CORES (os.cpu_count() there counts the host's, e.g. 64
# on a 2-vCPU Space): torch computes with that many threads, and ui.common sizes the training slots.
if os.environ.get("CPU_CORES", "").isdigit():
    os.environ.setdefault("OMP_NUM_THREADS", os.environ["CPU_CORES"])
