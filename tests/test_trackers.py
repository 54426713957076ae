"""--tensorboard and --trackio: both command lines send exactly metrics.csv's numbers, read back here."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnzoo.trackers import Trackers, record_numbers
from train import classifier, gan

REPO = Path(__file__).resolve().parent.parent
TINY = ["--model", "simple_cnn", "--knobs", '{"width": 8}', "--dataset", "digits", "--batch-size", "32",
        "--train-subset", "128", "--lr", "0.05"]


def csv_numbers(path: Path) -> dict[str, list[tuple[int, float]]]:
    """{column: [(step, value), ...]} of metrics.csv's numeric cells, as a tracker should hold them."""
    series: dict[str, list] = {}
    for row in csv.DictReader(open(path)):
        for name, cell in row.items():
            if name == "step" or cell == "":
                continue
            try:
                value = float(cell)
            except ValueError:
                continue  # text: kind, device, message, ...
            series.setdefault(name, []).append((int(row["step"]), value))
    return series


def tensorboard_numbers(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0}).Reload()
    return {tag: [(s.step, s.value) for s in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_same(tracked: dict, expected: dict, rel: float) -> None:
    assert set(tracked) == set(expected)
    for name, points in expected.items():
        assert [s for s, _ in tracked[name]] == [s for s, _ in points], name
        assert [v for _, v in tracked[name]] == pytest.approx([v for _, v in points], rel=rel, abs=1e-12), name


def test_tensorboard_holds_metrics_csv_and_a_resume_continues_it(tmp_path):
    out = tmp_path / "run"
    assert classifier.main([*TINY, "--epochs", "1", "--out", str(out), "--tensorboard"]) == 0
    expected = csv_numbers(out / "metrics.csv")
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "images_per_s"} <= set(expected)
    assert_same(tensorboard_numbers(out / "tensorboard"), expected, rel=1e-6)  # event files hold float32

    assert classifier.main(["--resume", str(out), "--epochs", "2", "--tensorboard"]) == 0
    expected = csv_numbers(out / "metrics.csv")  # the whole run: its first part's rows are not sent twice
    assert max(s for s, _ in expected["train_loss"]) == 8
    assert_same(tensorboard_numbers(out / "tensorboard"), expected, rel=1e-6)


def test_gan_cli_writes_tensorboard_into_a_chosen_folder(tmp_path):
    out, board = tmp_path / "gan", tmp_path / "board"
    assert gan.main(["--model", "dcgan", "--dataset", "digits", "--width", "8", "--batch-size", "16", "--steps", "6",
                     "--sample-every", "3", "--scorer", "none", "--out", str(out), "--tensorboard", str(board)]) == 0
    expected = csv_numbers(out / "metrics.csv")
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(expected)
    assert_same(tensorboard_numbers(board), expected, rel=1e-6)


def test_trackio_holds_metrics_csv(tmp_path):
    # Trackio reads $TRACKIO_DIR when imported: the run and the read-back each get a fresh interpreter.
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "r"
    command = [sys.executable, "-m", "train.classifier", *TINY, "--epochs", "1", "--out", str(out), "--trackio", "cnnzoo-test"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    read = ("import json, sys; from trackio.sqlite_storage import SQLiteStorage; "
            "print(json.dumps(SQLiteStorage.get_logs('cnnzoo-test', 'r')))")
    logs = json.loads(subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True,
                                     timeout=120, check=True).stdout.strip().splitlines()[-1])
    tracked: dict[str, list] = {}
    for entry in logs:
        for name, value in entry.items():
            if isinstance(value, (int, float)) and name not in ("step", "timestamp") and not name.startswith("_"):
                tracked.setdefault(name, []).append((entry["step"], value))
    assert_same(tracked, csv_numbers(out / "metrics.csv"), rel=1e-12)


class Event:
    def __init__(self, kind, history):
        self.kind, self.history = kind, history


def test_only_new_records_are_sent_and_text_is_left_out():
    sent = []

    class Sink:
        def log(self, step, numbers):
            sent.append((step, numbers))

    trackers = Trackers()
    trackers.sinks.append(Sink())
    history = [{"kind": "step", "step": 4, "train_loss": 0.5}]  # an earlier part of a resumed run
    trackers.update(Event("start", history))
    history.append({"kind": "step", "step": 8, "train_loss": 0.25, "device": "cpu", "test_acc": None})
    trackers.update(Event("step", history))
    assert sent == [(8, {"train_loss": 0.25})]
    assert record_numbers({"step": 1, "ok": True, "lr": 1}) == {"lr": 1.0}


def test_a_missing_tracker_package_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "trackio", None)  # import trackio -> ImportError
    assert classifier.main([*TINY, "--epochs", "1", "--out", str(tmp_path / "x"), "--trackio", "p"]) == 2
    assert "pip install -r requirements-trackers.txt" in capsys.readouterr().err
