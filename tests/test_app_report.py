"""The Report tab through a real server and gradio_client: nothing yet, then a report of the session's
own runs (a classifier and a GAN), never another session's."""
from __future__ import annotations

import html
import json
import re
import shlex
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client

from cnnzoo.report import same_config
from train import classifier as classifier_cli

QUICK = dict(model_name="simple_cnn", width=8, dataset="digits", epochs=2, batch_size=32, train_subset=128)
TINY_GAN = dict(model="dcgan", dataset="digits", image_size=32, width=4, steps=6, seed=0, sample_every=3)


def new_client(app_url) -> Client:
    """A fresh client is a fresh browser session on the server."""
    return Client(app_url, analytics_enabled=False, verbose=False)


@pytest.fixture
def tiny_scorer(tmp_path, monkeypatch):
    """An untrained tiny digits classifier as the GAN's live scorer (as tests/test_app_gan.py does)."""
    import ui.gan_generate
    from cnnzoo.checkpoints import save_checkpoint
    from cnnzoo.registry import create_model

    model = create_model("simple_cnn", num_classes=10, in_channels=1, width=4)
    path = save_checkpoint(tmp_path / "scorer.safetensors", model, {
        "model": "simple_cnn", "knobs": {"num_classes": 10, "in_channels": 1, "width": 4},
        "mean": [0.5], "std": [0.5], "input_size": [1, 32, 32], "dataset": "digits",
        "class_names": [str(i) for i in range(10)]})
    monkeypatch.setattr(ui.gan_generate, "SCORER", str(path))


def test_a_page_with_nothing_done_yet_gets_a_plain_message(app_url):
    status, html_file, zip_file = new_client(app_url).predict(api_name="/report")
    assert status.startswith("Nothing to report yet") and "Train" in status
    # No file, and nothing the page showed is wiped: the outputs are left as they were (gr.skip).
    assert html_file == zip_file == {"__type__": "update"}


def test_the_report_holds_this_sessions_runs_only(app_url, tiny_scorer):
    client = new_client(app_url)
    _, _, train_status, *_ = client.predict(**QUICK, api_name="/train")
    assert "finished" in train_status
    *_, generator = client.predict(**TINY_GAN, api_name="/gan_train")
    status, html_file, zip_file = client.predict(api_name="/report")
    assert status.startswith("**Report ready**: 1 classifier run, 1 GAN run"), status

    text = Path(html_file).read_text(encoding="utf-8")
    assert Path(html_file).name == "cnnzoo-lab-report.html"
    assert "simple_cnn · digits #1" in text and "dcgan · digits #1" in text
    assert "http://" not in text and "https://" not in text
    assert len(re.findall(r'src="data:image/(?:png|gif);base64,', text)) >= 8
    # The Train tab's run is reproduced by its command line: the same config as its record, in the zip.
    archive = zipfile.ZipFile(zip_file)
    names = archive.namelist()
    assert any(n.endswith("/last.safetensors") for n in names) and any(n.endswith("/generator.safetensors") for n in names)
    assert sum(n.endswith("/metrics.csv") for n in names) == 2 and "cnnzoo-lab-report.html" in names
    record = json.loads(archive.read(next(n for n in names if n.startswith("01-") and n.endswith("/record.json"))))
    line = html.unescape(next(m for m in re.findall(r"<pre>(.*?)</pre>", text) if "train.classifier" in m))
    config = classifier_cli.config_from_args(classifier_cli.parse_args(shlex.split(line)[3:])).to_dict()
    assert same_config({**config, "out_dir": None}, {**record["config"], "out_dir": None})
    assert record["config"]["knobs"]["width"] == 8 and record["config"]["cam_probe"] == 0  # the form's, and the tab's

    # Another browser's report: its own (empty) session, nothing of the first one.
    other_status, other_html, _ = new_client(app_url).predict(api_name="/report")
    assert other_status.startswith("Nothing to report yet") and not isinstance(other_html, str)
