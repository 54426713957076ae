"""The Experiments tab's loss landscape through a real server and gradio_client: the shipped pair on
a tiny grid (its centre is the checkpoint's own loss on the same images), the files, uploads, every
bad input getting a message that says what to do, and Stop keeping a partial grid.

The server is the tab's own Blocks (ui.experiments_tab.build_demo), on the shipped checkpoints
plain20-digits and resnet20-digits (ResNet-20 at 32×32: tens of ms per grid point).
"""
from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import torch.nn.functional as F
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import ui.experiments_tab
from cnnzoo.checkpoints import CHECKPOINT_DIR, load_checkpoint
from cnnzoo.compute import predict_logits
from cnnzoo.data import load_dataset
from cnnzoo.landscape import fixed_batches
from ui.experiments_tab import DEFAULT_PLAIN, DEFAULT_RESIDUAL

SHAPES = "shipped:simple-shapes-cam.safetensors"
pytestmark = pytest.mark.skipif(not (CHECKPOINT_DIR / "plain20-digits.safetensors").exists(),
                                reason="the shipped plain20-digits checkpoint is missing")


@pytest.fixture(scope="module")
def url(launch):
    return launch(ui.experiments_tab.build_demo())


def new_client(url) -> Client:
    """A fresh client is a fresh browser session on the server."""
    return Client(url, analytics_enabled=False, verbose=False)


def landscape(client, plain=DEFAULT_PLAIN, residual=DEFAULT_RESIDUAL, steps=3, span=1.0, batches=1, seed=0, bn="ignore"):
    return client.predict(plain, residual, steps, span, batches, seed, bn, api_name="/landscape")


def test_the_shipped_pair_on_a_tiny_grid_with_figures_summary_and_files(url):
    status, contours, surfaces, line, summary, files = landscape(new_client(url), steps=5)
    assert status.startswith("**Done**: 2 × 5×5 points"), status
    for plot in (contours, surfaces, line):
        assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/")
    assert "**plain20-digits**" in summary and "**resnet20-digits**" in summary and "25 / 25" in summary
    names = sorted(p.rsplit("/", 1)[-1] for p in files)
    stem = "landscape-5x5-span1-seed0-ignore-b1"  # every setting in the name: other settings, other files
    assert names == [f"{stem}-contours.png", f"{stem}-interpolation.png", f"{stem}-surfaces.png", f"{stem}.npz"]
    grids = np.load(next(p for p in files if p.endswith(".npz")))
    probe = fixed_batches(load_dataset("digits", "test", image_size=32), 1)  # the tab's images
    for k, name in enumerate(["plain20-digits", "resnet20-digits"]):
        assert str(grids[f"net{k}_name"]) == name
        assert grids[f"net{k}_loss"].shape == (5, 5) and np.isfinite(grids[f"net{k}_loss"]).all()
        assert tuple(grids[f"net{k}_seeds"]) == (0, 1)  # the same directions' seeds for both
        model, meta = load_checkpoint(CHECKPOINT_DIR / f"{name}.safetensors")
        own = F.cross_entropy(predict_logits(model, probe.images, meta["mean"], meta["std"]), probe.labels).item()
        assert grids[f"net{k}_loss"][2, 2] == pytest.approx(own, rel=1e-4)  # the centre is the checkpoint
        t, loss = grids[f"net{k}_line_t"], grids[f"net{k}_line_loss"]
        assert len(t) == 9 and t[2] == 0 and t[6] == 1  # t = 0 and t = 1 are on the line
        assert loss[6] == pytest.approx(own, rel=1e-4)


def test_a_repeated_landscape_comes_from_the_cache(url, monkeypatch):
    first = landscape(new_client(url), steps=3, seed=1)

    def computing(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(ui.experiments_tab, "iter_landscape", computing)  # the server runs in this process
    again = landscape(new_client(url), steps=3, seed=1)  # another page, the same settings
    assert again[0].startswith("**Done**") and again[4] == first[4]  # the same summary, seconds and all


@pytest.mark.parametrize("steps, message", [
    (0, "less than minimum value 3"),
    (100, "greater than maximum value 51"),  # 100 × 100 = 10,000 points
    (4, "odd whole number from 3 to 51"),
])  # fmt: skip
def test_grids_of_0_and_10000_points_and_even_sides_are_refused_with_the_limits(url, steps, message):
    with pytest.raises(AppError, match=message):
        landscape(new_client(url), steps=steps)


def test_other_bad_inputs_get_messages_that_say_what_to_do(url):
    client = new_client(url)
    with pytest.raises(AppError, match="must be trained on the same data.*digits at 1×32×32.*shapes at 3×32×32"):
        landscape(client, residual=SHAPES)
    with pytest.raises(AppError, match="no model .*shipped:dcgan-digits.safetensors.* here"):
        landscape(client, plain="shipped:dcgan-digits.safetensors")  # a GAN checkpoint is not in the list
    with pytest.raises(AppError, match="no model .*upload:nothing.safetensors.* here"):
        landscape(client, residual="upload:nothing.safetensors")
    # Out of a control's range: gradio's own check, before the handler runs.
    with pytest.raises(AppError, match="greater than maximum value 8"):
        landscape(client, batches=9)
    with pytest.raises(AppError, match="less than minimum value 0.05"):
        landscape(client, span=0)


def test_the_settings_say_their_limits_also_without_gradios_checks():
    settings = ui.experiments_tab.landscape_settings
    assert settings(7.0, 0.5, 2.0, 3.0, "copy") == dict(steps=7, span=0.5, batches=2, seed=3, bn="copy")
    for args, message in [((4, 1, 1, 0, "ignore"), "odd whole number from 3 to 51"),
                          ((2601, 1, 1, 0, "ignore"), "odd whole number from 3 to 51"),
                          ((5, 20, 1, 0, "ignore"), r"span must be a number in \(0, 10\]"),
                          ((5, 1, 0, 0, "ignore"), "batches must be from 1 to 8"),
                          ((5, 1, 1, None, "ignore"), "direction seed is empty"),
                          ((5, 1, 1, 0, "biasbn"), "one of ignore, copy, filter")]:
        with pytest.raises(ValueError, match=message):
            settings(*args)


def test_uploads_a_classifier_is_used_and_a_generator_refused(url, tmp_path):
    client = new_client(url)
    with pytest.raises(AppError, match="holds a generator"):
        client.predict(handle_file(str(CHECKPOINT_DIR / "dcgan-digits.safetensors")), DEFAULT_PLAIN, DEFAULT_RESIDUAL,
                       api_name="/landscape_upload")
    mine = shutil.copy(CHECKPOINT_DIR / "resnet20-digits.safetensors", tmp_path / "my-resnet.safetensors")
    plain, residual, status = client.predict(handle_file(str(mine)), DEFAULT_PLAIN, DEFAULT_RESIDUAL,
                                             api_name="/landscape_upload")
    assert residual["value"] == "upload:my-resnet.safetensors" and plain["value"] == DEFAULT_PLAIN
    assert "my-resnet.safetensors" in status
    status, *_, summary, _ = landscape(client, residual="upload:my-resnet.safetensors")
    assert status.startswith("**Done**") and "**my-resnet**" in summary
    with pytest.raises(AppError, match="no model .*upload:my-resnet.safetensors.* here"):
        landscape(new_client(url), residual="upload:my-resnet.safetensors")  # another page's upload


def test_stop_mid_way_keeps_the_points_computed_and_only_stops_its_own_page(url):
    client = new_client(url)
    job = client.submit(DEFAULT_PLAIN, DEFAULT_RESIDUAL, 51, 1.0, 1, 2, "ignore", api_name="/landscape")
    deadline = time.monotonic() + 60
    while not job.outputs() and time.monotonic() < deadline:  # the first progress update
        time.sleep(0.05)
    assert job.outputs(), "no progress was streamed"
    assert "Computing plain20-digits" in job.outputs()[0][0]
    assert new_client(url).predict(api_name="/landscape_stop") == "Nothing is computing on this page."
    with pytest.raises(AppError, match="already running on this page"):  # Compute again: refused, and ...
        client.predict(DEFAULT_PLAIN, DEFAULT_RESIDUAL, 3, 1.0, 1, 0, "ignore", api_name="/landscape")
    assert client.predict(api_name="/landscape_stop").startswith("Stopping")  # ... the Stop is still the first's
    status, contours, surfaces, line, summary, files = job.result(timeout=60)
    assert status.startswith("**Stopped** after"), status
    assert contours["plot"].startswith("data:image/") and "(stopped)" in summary
    grid = np.load(next(p for p in files if p.endswith(".npz")))["net0_loss"]
    computed = np.isfinite(grid)
    assert 0 < computed.sum() < 51 * 51 and computed[25, 25]  # the centre first
    assert client.predict(api_name="/landscape_stop") == "Nothing is computing on this page."


def test_layer_responses_of_the_shipped_pair_and_of_mismatched_or_missing_models(url):
    """Figure 7 of the ResNet paper on the shipped plain/residual digits pair; the numbers in the
    summary are cnnzoo.responses' own (tests/test_responses.py checks those against brute force)."""
    client = new_client(url)
    summary, figure = client.predict(DEFAULT_PLAIN, DEFAULT_RESIDUAL, api_name="/layer_responses")
    assert "On 360 test images of digits" in summary and "**resnet20**" in summary and "**plain20**" in summary
    assert "no layer's gradient vanishes" in summary and figure["type"] == "matplotlib"
    with pytest.raises(Exception, match="different data"):
        client.predict(DEFAULT_PLAIN, "shipped:simple-shapes-cam.safetensors", api_name="/layer_responses")
    with pytest.raises(Exception, match="no model"):
        client.predict(DEFAULT_PLAIN, "upload:nothing.safetensors", api_name="/layer_responses")


def test_the_degradation_figure_trains_the_four_nets_and_tabulates_them(url, monkeypatch):
    """A tiny version of the classroom preset (its full version: benchmarks/degradation.py)."""
    import ui.degradation_section as section

    monkeypatch.setattr(section, "DEGRADATION_RECIPE", {**section.DEGRADATION_RECIPE, "epochs": 1, "train_subset": 64,
                                                        "image_size": 8, "precision": "fp32"})
    status, figure, table = new_client(url).predict(3, api_name="/degradation_figure")
    assert "**Seed 3.**" in status and "points" in status and figure["type"] == "matplotlib"
    rows = {row[0]: row for row in table["data"]}
    assert list(rows) == ["plain20", "resnet20", "plain56", "resnet56"]
    assert all(row[1].endswith("%") and row[2].endswith("%") and row[3] > 0 for row in rows.values())
    with pytest.raises(Exception, match="less than minimum|whole number"):
        new_client(url).predict(-1, api_name="/degradation_figure")
    assert new_client(url).predict(api_name="/degradation_stop") == "Nothing is training on this page."


def test_the_recorded_classroom_run_replays_with_its_final_numbers(url):
    import json

    from ui.replays import RECORDS

    recorded = json.loads((RECORDS / "degradation" / "group.json").read_text())["final_errors"]
    status, figure, table = new_client(url).predict(256, 50, api_name="/degradation_replay")  # from half-way
    assert "**Seed 0.**" in status and "A recorded run, replayed." in status and figure["type"] == "matplotlib"
    rows = {row[0]: row for row in table["data"]}
    assert list(rows) == ["plain20", "resnet20", "plain56", "resnet56"]
    assert rows["plain56"][1] == f"{100 * recorded['plain56']['train']:.2f}%"
    # the effect the record shows: plain-56 trains worse than plain-20, ResNet-56 no worse than ResNet-20
    assert recorded["plain56"]["train"] - recorded["plain20"]["train"] > 0.2
    assert recorded["resnet56"]["train"] - recorded["resnet20"]["train"] < 0.01
    # the scrub bar: every net at epoch 6 of 12, then at the end with the final numbers
    status, figure, table = new_client(url).predict(50, api_name="/degradation_position")
    assert "epoch 6.0 of 12" in status and figure["type"] == "matplotlib" and table["data"] == []  # no final numbers yet
    status, figure, table = new_client(url).predict(100, api_name="/degradation_position")
    assert "A recorded run." in status and len(table["data"]) == 4


def test_the_tab_opens_with_the_recorded_numbers_and_tables_with_their_headers(url):
    """Nothing to press before there is something to read: the degradation table holds the recorded
    run's final numbers, the race table its column names (not gradio's "1 2 3")."""
    import httpx

    config = httpx.get(f"{url.rstrip('/')}/config", timeout=60).json()
    props = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["props"].get("elem_id")}
    table = props["degradation-table"]["value"]
    assert table["headers"] == ["network", "training error", "test error", "seconds"]
    assert [row[0] for row in table["data"]] == ["plain20", "resnet20", "plain56", "resnet56"]
    assert "The recorded run" in props["degradation-status"]["value"] and "**Seed 0.**" in props["degradation-status"]["value"]
    assert props["race-table"]["value"]["headers"][:3] == ["model", "params", "MACs"]
    status, _, table = new_client(url).predict(50, api_name="/degradation_position")
    assert table["headers"] == ["network", "training error", "test error", "seconds"] and table["data"] == []


def test_degradation_curves_read_on_a_log_axis_whatever_the_errors():
    from ui.degradation_section import MIN_ERROR, curves, degradation_figure

    history = [{"kind": "step", "epoch": 0.5, "train_acc": 1.0}, {"kind": "step", "epoch": 1.0, "train_acc": 0.3},
               {"kind": "eval", "epoch": 1.0, "test_acc": 0.999999}, {"kind": "end", "epoch": 1.0}]
    train_x, train_y, test_x, test_y = curves(history)
    assert (train_x, test_x) == ([0.5, 1.0], [1.0]) and train_y[0] == MIN_ERROR
    assert train_y[1] == pytest.approx(0.7 / 1.8)  # pandas' ewm(alpha=0.2): (0 + 0.7) / (0.8 + 1)
    assert test_y == [MIN_ERROR]  # a perfect epoch sits on the axis's floor, not at log(0)
    ax = degradation_figure({"plain56": history}).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim() == (MIN_ERROR, 1.0)


# ---------------------------------------------------------------------------------------------
# The architecture race (ui.race_section over cnnzoo.race; the core's own tests: tests/test_race.py)
# ---------------------------------------------------------------------------------------------


def race(client, models=("simple_cnn", "resnet20"), dataset="digits", image_size=8, budget_kind="epochs", budget=1,
         seed=0):
    return client.predict(list(models), dataset, image_size, budget_kind, budget, seed, api_name="/race")


def test_a_tiny_race_returns_the_curves_the_table_and_the_scatters_with_numbers(url):
    from cnnzoo.registry import create_model
    from cnnzoo.trace import trace

    status, curves, table, scatter = race(new_client(url))
    assert status.startswith("**Done** in") and "2 models, 1 epoch each, on digits at 8×8" in status, status
    for plot in (curves, scatter):
        assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/png")
    assert table["headers"] == ["model", "params", "MACs", "images/s", "epochs", "seconds", "test acc.", "status"]
    rows = {row[0]: row for row in table["data"]}
    assert list(rows) == ["simple_cnn", "resnet20"]
    for name, (_, params, macs, speed, epochs, seconds, accuracy, state) in rows.items():
        traced = trace(create_model(name, num_classes=10, in_channels=1), (1, 8, 8))
        assert params == f"{traced.total_params:,}" and macs.endswith(" M")
        assert speed > 0 and epochs == 1 and seconds > 0 and state == "done"
        assert accuracy.endswith("%") and 0 <= float(accuracy[:-1]) <= 100


def test_bad_race_settings_get_messages_naming_the_field(url):
    client = new_client(url)
    with pytest.raises(AppError, match="models: choose 2 to 6 models to race, got 1"):
        race(client, models=("simple_cnn",))
    with pytest.raises(AppError, match="each model races once"):
        race(client, models=("simple_cnn", "simple_cnn"))
    with pytest.raises(AppError, match="epochs per model is empty"):
        race(client, budget=None)
    with pytest.raises(AppError, match="epochs per model must be more than 0"):
        race(client, budget=0)
    with pytest.raises(AppError, match="seconds per model: 2 models × 200 s is more than the 5-minute limit "
                                       "on one experiment here; choose at most 150 s per model"):
        race(client, budget_kind="seconds", budget=200)
    with pytest.raises(AppError, match="vgg11 cannot race at 8×8 pixels"):
        race(client, models=("simple_cnn", "vgg11"))
    with pytest.raises(AppError, match="seed must be a whole number from 0"):
        race(client, seed=-1)  # (1.5 would be rounded by the field's precision=0 before the handler)
    for bad in (dict(models=("simple_cnn", "dcgan_generator")), dict(dataset="cifar10"), dict(image_size=12)):
        with pytest.raises(AppError):  # not among the choices: gradio's own check, before the handler
            race(client, **bad)
    assert new_client(url).predict(api_name="/race_stop") == "Nothing is racing on this page."


def test_stop_mid_race_keeps_what_was_trained_and_only_stops_its_own_page(url):
    client = new_client(url)
    job = client.submit(["simple_cnn", "resnet20"], "digits", 8, "epochs", 50, 0, api_name="/race")
    deadline = time.monotonic() + 60
    while not any("test accuracy" in out[0] for out in job.outputs()) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first model has been evaluated once
    assert any("**simple_cnn** (model 1 of 2)" in out[0] for out in job.outputs()), job.outputs()
    assert new_client(url).predict(api_name="/race_stop") == "Nothing is racing on this page."
    assert client.predict(api_name="/race_stop").startswith("Stopping")
    status, curves, table, scatter = job.result(timeout=60)
    assert status.startswith("**Stopped** after") and "resnet20 did not run" in status, status
    assert [row[0] for row in table["data"]] == ["simple_cnn"] and table["data"][0][-1] == "stopped"
    assert curves["plot"].startswith("data:image/png") and scatter["plot"].startswith("data:image/png")
    assert client.predict(api_name="/race_stop") == "Nothing is racing on this page."


def test_the_race_form_says_its_limits_also_without_gradios_checks():
    from ui.race_section import MAX_RACE_S, race_config

    config = race_config(["simple_cnn", "resnet20"], "digits", 16.0, "epochs", "3", 2.0)
    assert (config.models, config.image_size, config.budget, config.seed) == (("simple_cnn", "resnet20"), 16, 3.0, 2)
    assert config.max_seconds_per_model == MAX_RACE_S / 2  # an epochs race is capped by the server's limit
    assert race_config("simple_cnn", "shapes", 32, "seconds", 10, 0).models == ("simple_cnn",)  # one name, as a list
    for args, message in [(("digits", 16, "steps", 3, 0), "budget kind must be one of epochs, seconds"),
                          (("cifar10", 16, "epochs", 3, 0), "the built-in digits, shapes"),
                          (("digits", 12, "epochs", 3, 0), "image size must be one of 8, 16, 32"),
                          (("digits", 16, "seconds", "", 0), "seconds per model is empty"),
                          (("digits", 16, "epochs", 3, None), "seed is empty")]:
        with pytest.raises(ValueError, match=message):
            race_config(["simple_cnn", "resnet20"], *args)
