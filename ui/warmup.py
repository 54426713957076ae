"""What a class's first clicks need, made in the background as the server starts.

A network's first trace, a model's first load and a generator's first grid take seconds (a
ResNet's trace and figure, the CAM model with its test set, the GAN's generator); after that the
whole class shares them (ui.calculator, ui.cam_view, ui.gan_generate). `python app.py` starts
warm_up() in a thread of its own at the training jobs' lower priority (ui.jobs.yield_to_pages),
so the pages stay quick while it runs, and the first students do not wait for the pages as they
open: the Shapes tab's network, the CAM tab's model and first example, the GAN tab's grid and walk.
Measured with `python benchmarks/load.py --cold` (a class arriving the moment the server is up).
CNNZOO_WARM_UP=0 turns it off.
"""
from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Make what the tabs show as they open (each tab's default): returns the seconds it took."""
    from ui import cam_tab, gan_generate, shapes_tab
    from ui.cam_models import DEFAULT_CHECKPOINT

    started = time.perf_counter()
    shapes_tab.select_model(shapes_tab.default_model())  # its trace, table and drawn figure
    cam_tab.select_model(f"shipped:{DEFAULT_CHECKPOINT}", 3, "jet", 0.5, "largest", None)  # model, test set, CAM
    generator = f"shipped:{gan_generate.GENERATORS.default}"
    gan_generate.gan_sample(generator)  # the generator, its score, the grid of seed 0
    gan_generate.gan_interpolate(generator)  # the default walk
    return time.perf_counter() - started


def start() -> threading.Thread | None:
    """warm_up() in a background thread at a lower priority; None where CNNZOO_WARM_UP=0. A failure
    is logged, never raised: the pages then make what they need on first use, as without it."""
    if os.environ.get("CNNZOO_WARM_UP", "1") == "0":
        return None

    def run():
        from ui.jobs import yield_to_pages

        yield_to_pages()
        try:
            log.info("warmed up in %.1f s", warm_up())
        except Exception:
            log.exception("warming up failed; the pages make what they need when first asked")

    thread = threading.Thread(target=run, name="cnnzoo-warm-up", daemon=True)
    thread.start()
    return thread
