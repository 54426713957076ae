"""The GAN tab through a real server and gradio_client: train, stop, sample, interpolate, bad inputs."""
from __future__ import annotations

import time

import imageio.v3 as iio
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError

from cnnzoo.latent import load_generator

# A refused input: ValidationError where the event has a validator (gradio_client runs it first),
# AppError from the handler itself.
REFUSED = (AppError, ValidationError)

SHIPPED = "shipped:dcgan-digits.safetensors"
# A few steps of a narrow net: seconds on 2 cores; a sample grid every 5 steps.
TINY = dict(model="dcgan", dataset="digits", image_size=32, width=8, steps=12, seed=0, sample_every=5)


def new_client(app_url) -> Client:
    """A fresh client is a fresh browser session on the server."""
    return Client(app_url, analytics_enabled=False, verbose=False)


@pytest.fixture(autouse=True)
def tiny_scorer(tmp_path, monkeypatch):
    """An untrained tiny digits classifier as the live scorer: the numbers mean nothing, the plumbing is
    tested, in milliseconds instead of the seconds the shipped ResNet-20 takes on a busy 2-core CPU."""
    import ui.gan_generate
    from cnnzoo.checkpoints import save_checkpoint
    from cnnzoo.registry import create_model

    model = create_model("simple_cnn", num_classes=10, in_channels=1, width=4)
    path = save_checkpoint(tmp_path / "scorer.safetensors", model, {
        "model": "simple_cnn", "knobs": {"num_classes": 10, "in_channels": 1, "width": 4},
        "mean": [0.5], "std": [0.5], "input_size": [1, 32, 32], "dataset": "digits",
        "class_names": [str(i) for i in range(10)]})
    monkeypatch.setattr(ui.gan_generate, "SCORER", str(path))  # the tests train and sample digits only
    return path


def test_gan_train_streams_losses_and_ends_with_a_gif_and_a_generator(app_url):
    client = new_client(app_url)
    job = client.submit(**TINY, api_name="/gan_train")
    updates = list(job)
    losses, second, status, grid, score, gif, files, generator = job.result()
    assert len(updates) >= 2 and "finished" in status
    series = {row[2] for row in losses["data"]}
    assert series == {"discriminator loss", "generator loss"}
    assert max(row[0] for row in losses["data"]) == 12
    assert {row[2] for row in second["data"]} == {"D(x), real", "D(G(z)), fake"}
    assert all(np.isfinite(row[1]) for row in losses["data"])
    assert iio.imread(grid).shape[:2] == (2 * 274, 2 * 274)  # 8×8 samples of 32 px, shown 2×
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 4  # the untrained grid, steps 5 and 10, the end (step 12)
    assert frames.shape[1:3] == (274, 274)
    assert "real (ceiling)" in score and "noise (floor)" in score  # the ceiling and the floor
    checkpoint = next(f for f in files if f.endswith("generator.safetensors"))
    G, meta = load_generator(checkpoint)  # the download is a usable generator
    assert meta["gan"] == "dcgan" and meta["steps"] == 12 and G.image_size == 32
    assert any(f.endswith(".gif") for f in files) and any(f.endswith(".csv") for f in files)
    # The trained generator joins this page's generator list, selected, and samples.
    assert generator["value"] == "run:dcgan · digits #1"
    picture, about, *_ = client.predict(generator["value"], 0, 4, api_name="/gan_sample")
    assert iio.imread(picture).shape[:2] == (2 * 138, 2 * 138) and "trained 12 steps" in about


def test_wgan_reports_the_wasserstein_estimate(app_url):
    client = new_client(app_url)
    losses, second, status, *_ = client.predict(**{**TINY, "model": "wgan", "steps": 20, "clip": 0.005, "n_critic": 2},
                                                api_name="/gan_train")
    assert "finished" in status
    assert {row[2] for row in losses["data"]} == {"critic loss", "generator loss"}
    estimate = [row[1] for row in second["data"] if row[2] == "Wasserstein estimate"]
    critic = [row[1] for row in losses["data"] if row[2] == "critic loss"]
    assert len(estimate) == 2 and estimate == pytest.approx([-c for c in critic])


def test_gan_stop_ends_a_long_run_with_a_loadable_checkpoint(app_url, monkeypatch):
    import ui.gan_generate

    monkeypatch.setattr(ui.gan_generate, "SCORER", None)  # time the stop, not the final score
    client = new_client(app_url)
    job = client.submit(**{**TINY, "steps": 100_000}, api_name="/gan_train")
    deadline = time.monotonic() + 60
    while not any(out[0] is not None for out in job.outputs()):  # it is really training
        assert time.monotonic() < deadline
        time.sleep(0.05)
    clicked = time.monotonic()
    assert "Stopping" in client.predict(api_name="/gan_stop")
    losses, second, status, grid, score, gif, files, generator = job.result()
    assert time.monotonic() - clicked < 3.0  # the step in flight, a last grid, checkpoint and GIF
    assert "stopped" in status
    load_generator(next(f for f in files if f.endswith("generator.safetensors")))
    assert "Nothing is training" in client.predict(api_name="/gan_stop")


def test_gan_sample_is_a_function_of_the_seed(client):
    first, about, *_ = client.predict(SHIPPED, 7, 8, api_name="/gan_sample")
    again = client.predict(SHIPPED, 7, 8, api_name="/gan_sample")[0]
    other = client.predict(SHIPPED, 8, 8, api_name="/gan_sample")[0]
    a, b, c = iio.imread(first), iio.imread(again), iio.imread(other)
    assert a.shape[:2] == (548, 548)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert "10 / 10" in about and "noise (floor)" in about  # the card's score beside its references


def cell(picture: np.ndarray, index: int, side: int, size: int = 32, padding: int = 2, scale: int = 2) -> np.ndarray:
    """Sample #index of a grid drawn in SAMPLE_GRID_STYLE and enlarged `scale`×."""
    row, col = divmod(index, side)
    top, left = (padding + row * (size + padding)) * scale, (padding + col * (size + padding)) * scale
    return picture[top:top + size * scale, left:left + size * scale]


def test_interpolate_returns_a_strip_and_a_gif_between_the_chosen_samples(client):
    strip, gif, files = client.predict(SHIPPED, 3, 5, 4, 9, 4, "slerp", 10, api_name="/interpolate")
    assert sorted(f.rsplit(".", 1)[1] for f in files) == ["gif", "png"]
    frames = iio.imread(gif, index=None)
    assert frames.shape[:3] == (10, 36 * 8, 36 * 8)  # 10 frames of one 32×32 sample (+ lines), 8×: 288 px
    walk = iio.imread(strip)
    start_grid = iio.imread(client.predict(SHIPPED, 3, 4, api_name="/gan_sample")[0])
    end_grid = iio.imread(client.predict(SHIPPED, 4, 4, api_name="/gan_sample")[0])
    # The ends of the walk are exactly the picked samples: #5 of seed 3's grid, #9 of seed 4's.
    assert np.array_equal(cell(walk, 0, 10), cell(start_grid, 5, 4))
    assert np.array_equal(cell(walk, 9, 10), cell(end_grid, 9, 4))
    linear = iio.imread(client.predict(SHIPPED, 3, 5, 4, 9, 4, "linear", 10, api_name="/interpolate")[0])
    assert np.array_equal(cell(linear, 0, 10), cell(walk, 0, 10))  # same ends ...
    assert not np.array_equal(cell(linear, 5, 10), cell(walk, 5, 10))  # ... different paths


def test_bad_inputs_get_clear_errors_and_the_server_keeps_serving(app_url, tmp_path):
    client = new_client(app_url)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(REFUSED, match="junk.safetensors"):
        client.predict(handle_file(str(junk)), api_name="/gan_upload")
    from cnnzoo.checkpoints import save_checkpoint
    from cnnzoo.registry import create_model

    critic = tmp_path / "critic.safetensors"
    save_checkpoint(critic, create_model("wgan_critic", image_size=32, width=4),
                    {"model": "wgan_critic", "knobs": {"image_size": 32, "width": 4}})
    with pytest.raises(REFUSED, match="not a generator"):
        client.predict(handle_file(str(critic)), api_name="/gan_upload")
    with pytest.raises(REFUSED, match="width"):
        client.predict(**{**TINY, "width": 4096}, api_name="/gan_train")
    with pytest.raises(REFUSED, match="learning rate"):
        client.predict(**{**TINY, "lr": 5}, api_name="/gan_train")
    with pytest.raises(REFUSED, match="(?i)mnist|data"):  # no MNIST files offline: says where to put them
        client.predict(**{**TINY, "dataset": "mnist"}, api_name="/gan_train")
    with pytest.raises(REFUSED, match="frames|maximum value 64"):
        client.predict(SHIPPED, 1, 0, 2, 0, 8, "slerp", 100_000, api_name="/interpolate")
    with pytest.raises(REFUSED, match="sample #"):
        client.predict(SHIPPED, 1, 64, 2, 0, 8, "slerp", 8, api_name="/interpolate")
    with pytest.raises(REFUSED, match="samples a side|maximum value 12"):
        client.predict(SHIPPED, 1, 1000, api_name="/gan_sample")
    with pytest.raises(REFUSED, match="no generator"):
        client.predict("upload:../../etc/passwd", 1, 8, api_name="/gan_sample")
    # An uploaded generator is this page's; the server still serves.
    upload = client.predict(handle_file("checkpoints/dcgan-digits.safetensors"), api_name="/gan_upload")["value"]
    assert upload == "upload:dcgan-digits.safetensors"
    assert iio.imread(client.predict(upload, 1, 2, api_name="/gan_sample")[0]).shape[:2] == (140, 140)
    with pytest.raises(REFUSED, match="no generator"):
        new_client(app_url).predict(upload, 1, 2, api_name="/gan_sample")


def test_presets_fill_the_form_with_the_seeds_settings(app_url):
    from cnnzoo.recipes import SOURCES

    client = new_client(app_url)
    names = ["model", "dataset", "image_size", "width", "steps", "lr", "clip", "n_critic", "seed", "sample_every", "note"]
    seed = dict(zip(names, client.predict(preset="wgan-mnist32-seed", api_name="/gan_preset")))
    assert (seed["model"], seed["dataset"], seed["image_size"], seed["width"], seed["clip"], seed["n_critic"]) == (
        "wgan", "mnist", 32, 256, 0.005, 5)  # WG1, WG2, WG5
    assert SOURCES["wgan-mnist32-seed"] in seed["note"] and "--clip 0.005" in seed["note"]
    assert "wider than this server trains" in seed["note"]  # width 256 > the tab's 128: said before Train
    paper = dict(zip(names, client.predict(preset="wgan-mnist32-paper", api_name="/gan_preset")))
    assert paper["clip"] == 0.01 and paper["lr"] == 5e-5  # WG16
    dcgan = dict(zip(names, client.predict(preset="dcgan-fashion64-seed", api_name="/gan_preset")))
    assert (dcgan["model"], dcgan["dataset"], dcgan["image_size"], dcgan["width"], dcgan["seed"]) == (
        "dcgan", "fashion-mnist", 64, 128, 999)  # G1, G3, G12
    assert "batch 64; the preset's is 128" in dcgan["note"] and "--batch-size 128" in dcgan["note"]
    digits = dict(zip(names, client.predict(preset="dcgan-digits", api_name="/gan_preset")))
    assert (digits["dataset"], digits["width"], digits["steps"]) == ("digits", 20, 1500)  # the tab's defaults
    with pytest.raises(REFUSED, match="nope.*wgan-mnist32-seed"):
        client.predict(preset="nope", api_name="/gan_preset")


def test_the_shipped_gan_records_replay_with_their_grids_and_scrub(app_url):
    client = new_client(app_url)
    job = client.submit("dcgan-digits", 256, 90, api_name="/gan_replay")  # from 90%: the last 300 steps
    losses, second, status, grid, score, gif, files, generator = job.result()
    assert "finished" in status and max(row[0] for row in losses["data"]) == 3000
    assert iio.imread(gif, index=None).shape[0] > 10 and grid.endswith(".png")
    assert generator["value"] == "run:▶ dcgan · digits #1"  # the shipped generator, to sample from
    picture, about, *_ = client.predict(generator["value"], 0, 4, api_name="/gan_sample")
    assert "trained 3000 steps" in about
    # the scrub bar: the run as it stood at 10%, its grid of then
    losses, second, status, grid, score, *_ = client.predict("dcgan-digits", 10, api_name="/gan_replay_position")
    assert max(row[0] for row in losses["data"]) <= 300 and "step 300 / 3000" in status and grid.endswith(".png")
    # a record shipped without its weights: the curves and the GIF, said plainly
    *_, status, grid, score, gif, files, generator = client.predict("wgan-digits", 256, 95, api_name="/gan_replay")
    assert "its weights are not shipped" in status and gif.endswith(".gif")


def test_a_grid_and_a_walk_are_drawn_once_per_generator_and_seed_and_each_page_gets_its_own_file(monkeypatch):
    # A class samples the same seeds over and over (benchmarks/load.py): each grid is drawn once.
    from types import SimpleNamespace

    import ui.gan_generate as generate

    drawn = []
    real_sample_grid, real_walk = generate.sample_grid, generate.walk
    monkeypatch.setattr(generate, "sample_grid", lambda G, seed, **kw: drawn.append(("grid", seed)) or real_sample_grid(G, seed=seed, **kw))
    monkeypatch.setattr(generate, "walk", lambda *args: drawn.append(("walk",)) or real_walk(*args))
    generate._drawn.clear()
    page_a, page_b = SimpleNamespace(session_hash="cache-page-a"), SimpleNamespace(session_hash="cache-page-b")
    first = generate.gan_sample(SHIPPED, 7, 3, request=page_a)[0]
    again = generate.gan_sample(SHIPPED, 7, 3, request=page_b)[0]
    assert drawn == [("grid", 7)]
    assert first != again and open(first, "rb").read() == open(again, "rb").read()  # its own file, the same pixels
    other = generate.gan_sample(SHIPPED, 8, 3, request=page_a)[0]
    assert drawn == [("grid", 7), ("grid", 8)] and open(other, "rb").read() != open(first, "rb").read()
    generate.gan_sample(SHIPPED, 7, 4, request=page_a)  # another grid size: other samples
    assert drawn[-1] == ("grid", 7) and len(drawn) == 3

    walk_a = generate.gan_interpolate(SHIPPED, 1, 0, 2, 5, 3, "slerp", 6, request=page_a)
    walk_b = generate.gan_interpolate(SHIPPED, 1, 0, 2, 5, 3, "slerp", 6, request=page_b)
    assert drawn.count(("walk",)) == 1 and walk_a[1] != walk_b[1]
    assert iio.imread(walk_b[1]).shape[0] == 6 and open(walk_a[0], "rb").read() == open(walk_b[0], "rb").read()
    generate.gan_interpolate(SHIPPED, 1, 0, 2, 5, 3, "linear", 6, request=page_a)
    assert drawn.count(("walk",)) == 2
