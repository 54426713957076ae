"""The lab report (cnnzoo.report): one self-contained HTML file and one zip from run folders."""
from __future__ import annotations

import json
import re
import shlex
import zipfile
from pathlib import Path

import pytest
from conftest import torch_threads

from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.report import HTML_NAME, reproduce_command, same_config, write_lab_report
from cnnzoo.runs import read_record
from cnnzoo.trainer import TrainConfig, Trainer
from train import classifier as classifier_cli
from train import gan as gan_cli

TINY = dict(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=2, batch_size=32, train_subset=128,
            lr=0.05, schedule="constant", logs_per_epoch=4, evals_per_epoch=1, precision="fp32")
TINY_GAN = dict(model="dcgan", dataset="digits", image_size=32, width=4, batch_size=16, num_samples=4, log_every=1,
                sample_every=2, scorer=None, steps=5)
NASTY = '<script>alert("x")</script> & run'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny classifier run with a CAM timeline and a tiny DCGAN run, each in its run folder."""
    root = tmp_path_factory.mktemp("runs")
    with torch_threads(1):
        for _ in Trainer(TrainConfig(**TINY, cam_probe=0, out_dir=str(root / "classifier"))).run():
            pass
        for _ in GANTrainer(GANConfig(**TINY_GAN, out_dir=str(root / "gan"))).run():
            pass
    return root


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_lab_report([(NASTY, runs / "classifier"), ("dcgan #1", runs / "gan")], out,
                            pictures=[(runs / "gan" / "samples.png", "my <b>picture</b>")])


def test_the_html_is_self_contained(report):
    text = report.html.read_text(encoding="utf-8")
    assert (report.classifiers, report.gans, report.left_out) == (1, 1, [])
    # Every picture inline: curves, confusion matrix, CAM strip and GIF, GAN curves, GIF and samples, the extra.
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', text)) >= 8
    assert len(re.findall(r'src="data:image/gif;base64,', text)) == 2  # the CAM timeline and the GAN's progress
    # Nothing outside the file: no URL at all, every src and href a data: URI or an anchor.
    assert "http://" not in text and "https://" not in text
    assert all(v.startswith(("data:", "#")) for v in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text))
    assert "default-src 'none'" in text  # and the page may not load anything even if it tried


def test_user_text_is_escaped(report):
    text = report.html.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; run" in text
    assert "<b>picture</b>" not in text and "my &lt;b&gt;picture&lt;/b&gt;" in text


def test_every_section_is_there(report):
    text = report.html.read_text(encoding="utf-8")
    for heading in ("The model's shape table", "Reproduce it", "The exact settings", "In the zip"):
        assert text.count(heading) == 2  # once per run
    assert "test set: " in text and "CAM timeline" in text and "progress: the same fixed noise" in text
    assert "stage1.conv1" in text and "head.fc" in text  # the classifier's layers
    assert "generator</b>: dcgan_generator on a 100×1×1 input" in text and "discriminator</b>: dcgan_discriminator" in text
    assert "python -m train.classifier" in text and "python -m train.gan" in text
    assert "logs_per_epoch = 4 has no command-line flag" in text  # what the flags cannot say is said


def test_the_command_lines_round_trip_to_the_same_config(runs):
    for kind, cli in (("classifier", classifier_cli), ("gan", gan_cli)):
        config = read_record(runs / kind)["config"]
        command = reproduce_command(kind, config, "runs/again")
        words = shlex.split(command.line)
        assert words[:3] == ["python", "-m", f"train.{kind}"]
        parsed = cli.config_from_args(cli.parse_args(words[3:])).to_dict()
        settable = {k: v for k, v in config.items() if k not in ("logs_per_epoch", "num_samples", "log_every")}
        assert same_config({k: parsed[k] for k in settable}, {**settable, "out_dir": "runs/again"})


@pytest.mark.parametrize("config", [
    TrainConfig(model="resnet20", dataset="cifar10", epochs=3, lr=0.01, nesterov=True, augment=False, momentum=0.95,
                knobs={"shortcut": "B"}, time_limit_s=1200.0, cam_probe=3, label_smoothing=0.1, image_size=16),
    TrainConfig(model="inception_mnist", dataset="mnist", normalisation="none", epochs=1.5, seed=7),  # needs a recipe
    TrainConfig(model="resnet20", dataset="cifar10", milestones=(0.5, 0.75), schedule="multistep", gamma=0.1),
])  # fmt: skip
def test_any_classifier_config_round_trips(config):
    command = reproduce_command("classifier", json.loads(json.dumps(config.to_dict())), "runs/x")
    assert command.notes == []
    args = classifier_cli.parse_args(shlex.split(command.line)[3:])
    assert same_config(classifier_cli.config_from_args(args).to_dict(), {**config.to_dict(), "out_dir": "runs/x"})


def test_a_gan_config_round_trips_and_a_missing_flag_is_a_note():
    config = GANConfig(model="wgan", clip=0.005, n_critic=3, lr=1e-4, scorer=None, steps=40, g_noise="same", beta2=0.9)
    command = reproduce_command("gan", config.to_dict(), "runs/w")
    assert "--scorer none" in command.line and "--clip 0.005" in command.line
    assert len(command.notes) == 1 and command.notes[0].startswith("beta2 = 0.9 has no command-line flag")
    parsed = gan_cli.config_from_args(gan_cli.parse_args(shlex.split(command.line)[3:])).to_dict()
    assert same_config({**parsed, "beta2": 0.9}, {**config.to_dict(), "out_dir": "runs/w"})


def test_the_zip_holds_each_run_folder_but_not_the_resume_state(report):
    names = set(zipfile.ZipFile(report.zip).namelist())
    classifier, gan = sorted({n.split("/")[0] for n in names if "/" in n})
    assert classifier.startswith("01-") and gan == "02-dcgan-1"
    assert {f"{classifier}/{f}" for f in ("last.safetensors", "metrics.csv", "record.json", "cam_timeline.gif",
                                           "cam_timeline.png", "images/cam-epoch0.png")} <= names
    assert {f"{gan}/{f}" for f in ("generator.safetensors", "discriminator.safetensors", "metrics.csv",
                                    "record.json", "progress.gif", "samples.png")} <= names
    assert HTML_NAME in names
    assert not any(n.endswith(".state.pt") for n in names)


def test_an_unreadable_run_is_left_out_and_said_so(runs, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "record.json").write_text("{not json")
    result = write_lab_report([("good", runs / "gan"), ("broken", damaged)], tmp_path / "out")
    assert (result.gans, len(result.left_out)) == (1, 1) and result.left_out[0].startswith("broken: ")
    assert "Left out" in result.html.read_text(encoding="utf-8") and "left out 1 unreadable" in result.summary()
    with pytest.raises(ValueError, match="nothing to report"):
        write_lab_report([], tmp_path / "empty")


def test_a_record_cannot_pull_in_files_from_outside_its_folder(runs, tmp_path):
    import shutil

    folder = tmp_path / "tampered"
    shutil.copytree(runs / "gan", folder)
    secret = tmp_path / "secret.png"
    shutil.copyfile(runs / "gan" / "samples.png", secret)
    record = json.loads((folder / "record.json").read_text())
    record["files"] = {**record["files"], "samples": "../secret.png", "metrics": str(secret)}
    (folder / "record.json").write_text(json.dumps(record))
    result = write_lab_report([("tampered", folder)], tmp_path / "out")
    assert not any("secret" in n for n in zipfile.ZipFile(result.zip).namelist())
    assert "final samples" not in result.html.read_text(encoding="utf-8")


def test_the_report_opens_in_a_browser_without_a_request(report, open_page, screenshot_dir):
    for width, height in ((1280, 800), (390, 844)):
        page = open_page(Path(report.html).as_uri(), width=width, height=height)
        assert page.requested_hosts <= {"", None}  # the file itself only
        assert page.locator("section.run h2").count() == 2
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        # Readable on a phone: nothing wider than the screen but the tables, which scroll inside their box.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"report-{width}.png"), full_page=True)
