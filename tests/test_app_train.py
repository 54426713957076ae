"""The Train tab through a real server and gradio_client: train, stop, resume, sessions apart."""
from __future__ import annotations

import re
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError

from cnnzoo.checkpoints import load_checkpoint

# A refused input: ValidationError where the event has a validator (gradio_client runs it first),
# AppError from the handler itself.
REFUSED = (AppError, ValidationError)

# Short runs on a slice of the built-in digits; the rest of the inputs keep the tab's defaults.
QUICK = dict(model_name="simple_cnn", width=16, dataset="digits", epochs=3, batch_size=32, train_subset=256)


def new_client(app_url) -> Client:
    """A fresh client is a fresh browser session on the server."""
    return Client(app_url, analytics_enabled=False, verbose=False)


def wait_for(job, condition, timeout=60):
    """Poll a streaming job until its latest update satisfies `condition`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs and condition(outputs[-1]):
            return outputs[-1]
        time.sleep(0.05)
    raise AssertionError("the job never reached the expected state")


def test_train_streams_curves_and_ends_with_a_report(app_url):
    client = new_client(app_url)
    job = client.submit(**QUICK, api_name="/train")
    updates = list(job)
    loss, acc, status, confusion, gallery, files, runs, timeline, legend = job.result()
    assert len(updates) >= 2  # the curves stream while it trains
    assert "finished" in status and "test accuracy" in status
    series = {row[2] for row in loss["data"]}
    assert any(s.endswith("· train") for s in series) and any(s.endswith("· test") for s in series)
    epochs = [row[0] for row in loss["data"]]
    assert max(epochs) == pytest.approx(3.0)
    test_acc = [row[1] for row in acc["data"] if row[2].endswith("· test")]
    assert 10 < test_acc[-1] <= 100  # percent, above chance
    assert confusion["type"] == "matplotlib"
    assert all("predicted" in item["caption"] and "true" in item["caption"] for item in gallery)
    checkpoint = next(f for f in files if f.endswith(".safetensors"))
    assert any(f.endswith(".csv") for f in files)
    model, meta = load_checkpoint(checkpoint)  # the download is a usable checkpoint
    assert meta["model"] == "simple_cnn" and meta["dataset"] == "digits"
    assert runs["value"] == ["simple_cnn · digits #1"]
    # The CAM timeline: the untrained model and one frame per epoch, as a strip and a GIF.
    import imageio.v3 as iio

    gif = next(f for f in files if f.endswith(".gif"))
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 4  # epoch 0 (untrained), 1, 2, 3
    strip = iio.imread(timeline)
    assert strip.shape[1] > 3 * strip.shape[0] / 1.5  # frames side by side


def test_bad_settings_get_a_clear_error_and_the_server_keeps_serving(app_url):
    client = new_client(app_url)
    with pytest.raises(REFUSED, match="learning rate"):
        client.predict(**QUICK, lr=-1, api_name="/train")
    with pytest.raises(REFUSED, match="depth"):
        client.predict(model_name="wide_resnet", depth=30, dataset="digits", epochs=1, api_name="/train")
    with pytest.raises(REFUSED, match="epochs is empty: type a number"):  # a blank field names itself
        client.predict(**{**QUICK, "epochs": None}, api_name="/train")
    with pytest.raises(REFUSED, match="(?i)cifar10|data"):  # no CIFAR files offline: says where to put them
        client.predict(**{**QUICK, "dataset": "cifar10"}, api_name="/train")
    _, _, status, *_ = client.predict(**{**QUICK, "epochs": 1}, api_name="/train")
    assert "finished" in status


def test_stop_halts_within_a_second_and_resume_continues_the_curves(app_url):
    client = new_client(app_url)
    job = client.submit(**{**QUICK, "epochs": 40}, api_name="/train")
    wait_for(job, lambda out: out[0] is not None and len(out[0]["data"]) > 0)  # it is really training
    clicked = time.monotonic()
    assert "Stopping" in client.predict(api_name="/stop")
    wait_for(job, lambda out: "stopped" in out[2])
    assert time.monotonic() - clicked < 1.0  # the step in flight and a checkpoint save
    loss, acc, status, confusion, gallery, files, runs, timeline, legend = job.result()
    assert "stopped" in status and "Resume" in status
    stopped_at = max(row[0] for row in loss["data"])
    assert 0 < stopped_at < 40
    checkpoint = next(f for f in files if f.endswith(".safetensors"))
    load_checkpoint(checkpoint)  # loadable

    name = runs["value"][0]
    job = client.submit(run_name=name, api_name="/resume")
    wait_for(job, lambda out: out[0] is not None and max(row[0] for row in out[0]["data"]) > stopped_at)
    client.predict(api_name="/stop")
    loss2 = job.result()[0]
    epochs = [row[0] for row in loss2["data"] if row[2] == f"{name} · train"]
    assert epochs == sorted(epochs)  # one continuous curve ...
    assert min(epochs) < stopped_at < max(epochs)  # ... that goes on past where it stopped


def test_sessions_are_apart(app_url):
    """One user's Stop does not stop another's run, and runs are listed per session."""
    alice, bob = new_client(app_url), new_client(app_url)
    job_a = alice.submit(**{**QUICK, "epochs": 6}, api_name="/train")
    while not job_a.outputs():
        time.sleep(0.05)
    assert "Nothing is training" in bob.predict(api_name="/stop")
    _, _, status, *_rest, runs, _timeline, _legend = job_a.result()
    assert "finished" in status
    with pytest.raises(REFUSED, match="run of this session"):
        bob.predict(run_name=runs["value"][0], api_name="/resume")  # alice's run is not bob's


def test_degradation_preset_trains_plain_and_residual_nets_on_the_same_data(app_url, monkeypatch):
    import ui.train_tab

    # The server runs in this process: shrink the preset's recipe so the test takes seconds.
    monkeypatch.setattr(ui.train_tab, "DEGRADATION_RECIPE", {**ui.train_tab.DEGRADATION_RECIPE, "epochs": 1, "train_subset": 64})
    client = new_client(app_url)
    loss, acc, status, confusion, gallery, files, runs, timeline, legend = client.predict(api_name="/degradation")
    assert runs["value"] == [f"{name} · digits #1" for name in ["plain20", "resnet20", "plain56", "resnet56"]]
    series = {row[2] for row in loss["data"]}
    assert {f"{name} · digits #1 · train" for name in ["plain20", "resnet56"]} <= series
    assert "finished" in status


def test_choosing_a_recipe_fills_the_form_and_names_its_source(app_url):
    from cnnzoo.recipes import SOURCES
    from ui.common import KNOBS

    client = new_client(app_url)
    filled = client.predict(recipe="wrn-40-2-cifar10-paper", api_name="/train_recipe")
    names = ["model_name", *KNOBS, "dataset", "image_size", "epochs", "batch_size", "optimizer", "lr", "momentum",
             "weight_decay", "schedule", "augment", "label_smoothing", "seed", "train_subset", "val_fraction", "note"]
    form = dict(zip(names, filled))  # the normalisation is a gr.State: not sent to API clients
    assert (form["model_name"], form["dropout"]["value"], form["dataset"], form["epochs"], form["batch_size"]) == (
        "wide_resnet40_2", 0.3, "cifar10", 200, 128)  # WT1
    assert (form["optimizer"], form["lr"], form["momentum"], form["weight_decay"], form["schedule"]) == (
        "sgd-nesterov", 0.1, 0.9, 5e-4, "multistep")  # WT2: the paper's Nesterov momentum
    assert SOURCES["wrn-40-2-cifar10-paper"] in form["note"] and "./data" in form["note"]  # CIFAR must be on disk
    form = dict(zip(names, client.predict(recipe="inception-mnist", api_name="/train_recipe")))
    assert (form["epochs"], form["optimizer"], form["momentum"], form["schedule"], form["augment"]) == (
        9, "sgd", 0.5, "constant", False)  # I3, I4
    assert "not normalised" in form["note"]  # I5
    with pytest.raises(REFUSED, match="nope.*inception-mnist"):  # an unknown recipe lists the valid ones
        client.predict(recipe="nope", api_name="/train_recipe")


def test_the_forms_nesterov_and_he_schedule_reach_the_run(app_url):
    client = new_client(app_url)
    *_, files, _runs, _timeline, _legend = client.predict(**{**QUICK, "epochs": 1}, optimizer="sgd-nesterov",
                                                 schedule="multistep-he", api_name="/train")
    config = load_checkpoint(next(f for f in files if f.endswith(".safetensors")))[1]["train_config"]
    assert (config["optimizer"], config["nesterov"], config["gamma"], list(config["milestones"])) == (
        "sgd", True, 0.1, [0.5, 0.75])
    assert config["normalisation"] == "dataset"  # an API client's form, not a recipe's


def test_a_shipped_record_replays_like_a_live_run_and_scrubs(app_url):
    client = new_client(app_url)
    job = client.submit("train-default", 256, 0, 0.6, api_name="/replay")
    updates = list(job)
    loss, acc, status, confusion, gallery, files, runs, timeline, legend = job.result()
    assert len(updates) >= 2 and "finished" in status and "test accuracy **98.61%**" in status
    series = {row[2] for row in acc["data"]}
    assert series == {"▶ simple_cnn · digits #1 · train", "▶ simple_cnn · digits #1 · test"}
    assert max(row[0] for row in loss["data"]) == pytest.approx(15.0)
    assert timeline.endswith(".png") and any(f.endswith(".csv") for f in files)
    # the scrub bar: the run at 40% (epoch 6 of 15), without replaying it
    loss, acc, status, *_, timeline, _legend = client.predict("train-default", 40, 0.6, api_name="/replay_position")
    assert max(row[0] for row in loss["data"]) == pytest.approx(6.0, abs=0.1)
    assert "step 132 / 330" in status and "recorded" in status and timeline.endswith("cam-epoch6.png")
    with pytest.raises(REFUSED, match="not in the list of choices"):
        client.predict("nope", 40, 0.6, api_name="/replay_position")


def test_a_replay_at_its_recorded_pace_is_stopped_by_stop(app_url):
    client = new_client(app_url)
    job = client.submit("train-default", 1, 0, 0.6, api_name="/replay")
    wait_for(job, lambda out: "epoch" in str(out[2]))
    client.predict(api_name="/stop")
    *_, status = job.result()[:3]
    assert "stopped" in status


def run_with(name, losses, test_losses, accs=None):
    """A Run whose history has a step record per training loss and an eval record per test loss."""
    from ui.sessions import Run

    history = [{"kind": "step", "epoch": (i + 1) / len(losses), "train_loss": loss, "train_acc": 0.5,
                "elapsed_s": float(i)} for i, loss in enumerate(losses)]
    history += [{"kind": "eval", "epoch": float(i + 1), "test_loss": loss, "test_acc": (accs or [0.9] * 9)[i],
                 "val_loss": None, "val_acc": None} for i, loss in enumerate(test_losses)]
    return Run(name=name, config={}, history=history)


def test_the_legend_is_a_table_of_final_numbers_in_the_plots_colours():
    # The plots' own one-row legend cut a second series to "simple_cr…" (issue #14): the page's
    # legend is a table, a run a row, each line's key in the colour vega gives it (its default
    # scheme, in row order), with the run's final numbers (every multi-run view has them).
    from ui.train_view import PALETTE, curve_outputs

    runs = [run_with("resnet20 · digits #1", [2.3, 0.4], [0.5, 0.3], [0.88, 0.95]),
            run_with("resnet56 · digits #1", [2.3, 0.6], [0.7, 0.2], [0.80, 0.97])]
    shown = curve_outputs(runs, smoothing=0)
    names = list(dict.fromkeys(shown["loss_plot"]["series"]))
    assert names == [f"resnet{d} · digits #1 · {split}" for d in (20, 56) for split in ("train", "test")]
    keys = re.findall(r'background:(#[0-9a-f]{6})"></i>(\w+)</span>', shown["legend"])
    assert keys == list(zip(PALETTE, ["train", "test"] * 2))
    rows = re.findall(r"<tr>(.*?)</tr>", shown["legend"])[1:]
    cells = [[re.sub(r"<br>.*", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)] for row in rows]
    # run, train acc and loss (over its last epoch), test acc and loss, best test acc, epochs, seconds
    assert cells[0] == ["resnet20 · digits #1", "50.0%", "95.00%", "1.350", "0.300", "95.00%", "2", "1"]
    assert cells[1][0] == "resnet56 · digits #1" and [cells[1][2], cells[1][5]] == ["97.00%", "97.00%"]
    assert "drawn at" not in shown["legend"]  # nothing cut
    assert curve_outputs([], 0)["legend"] == '<div class="cnnzoo-legend"></div>'


def test_a_run_not_yet_evaluated_names_its_test_line_so_its_first_evaluation_adds_none():
    # gradio 6.31's LinePlot draws only the lines of its first data; a reset to draw a new one logs
    # "reading 'offsetWidth'" errors. A first run named its test line at its first evaluation.
    from ui.common import LinePlotLines
    from ui.train_view import curve_outputs

    lines = LinePlotLines()
    before = curve_outputs([run_with("simple_cnn · digits #1", [2.3, 1.9], [])], smoothing=0)
    test = before["loss_plot"][before["loss_plot"]["series"] == "simple_cnn · digits #1 · test"]
    assert len(test) == 1 and test["value"].isna().all()  # named, with no point to draw
    assert lines.new_lines(before["loss_plot"]) is False
    after = curve_outputs([run_with("simple_cnn · digits #1", [2.3, 1.9], [0.4])], smoothing=0)
    assert lines.new_lines(after["loss_plot"]) is False  # the evaluation draws on the named line
    assert after["loss_plot"]["value"].notna().all()
    assert "—" in before["legend"] and "40.0" not in before["legend"]  # no test numbers yet


def test_an_exploding_test_loss_does_not_flatten_the_other_curves():
    # issue #14 item 1: plain-56's first test loss near 1.7 million ran the axis to 1,800,000
    from ui.train_view import HEADROOM, curve_outputs

    runs = [run_with("plain20", [2.3, 0.3], [0.4, 0.2]), run_with("plain56", [2.4, 1.1], [1.7e6, 0.9])]
    shown = curve_outputs(runs, smoothing=0)
    loss = shown["loss_plot"]
    ceiling = HEADROOM * 2.4
    assert loss["value"].max() == pytest.approx(ceiling)  # the axis ends a little above the training losses
    test56 = loss[loss["series"] == "plain56 · test"]["value"].tolist()
    assert test56 == [pytest.approx(ceiling), 0.9]  # cut at the ceiling, the rest as they were
    assert loss[loss["series"].str.endswith("train")]["value"].max() == 2.4  # training losses never cut
    assert f"drawn at {ceiling:.3g}" in shown["legend"]


def test_a_finished_run_is_overlaid_on_the_pages_earlier_runs(app_url):
    client = new_client(app_url)
    tiny = {**QUICK, "epochs": 1, "train_subset": 64}
    client.predict(**tiny, api_name="/train")
    loss, *_, runs, _timeline, legend = client.predict(**tiny, api_name="/train")
    assert runs["value"] == ["simple_cnn · digits #1", "simple_cnn · digits #2"]  # both ticked
    assert {row[2] for row in loss["data"]} >= {"simple_cnn · digits #1 · train", "simple_cnn · digits #2 · train"}
    assert "<td>simple_cnn · digits #1<br>" in legend and "<td>simple_cnn · digits #2<br>" in legend
