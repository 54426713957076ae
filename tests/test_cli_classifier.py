"""python -m train.classifier: recipes, progress, CSV, checkpoint, resume, errors."""
import csv

import imageio.v3 as iio
import subprocess
import sys
from pathlib import Path

from cnnzoo.checkpoints import load_checkpoint
from train import classifier

REPO = Path(__file__).resolve().parent.parent
TINY = ["--model", "simple_cnn", "--knobs", '{"width": 8}', "--dataset", "digits", "--batch-size", "32",
        "--train-subset", "128", "--lr", "0.05"]


def test_trains_writes_csv_and_checkpoint_then_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert classifier.main([*TINY, "--epochs", "2", "--out", str(out), "--cam-probe", "3"]) == 0
    printed = capsys.readouterr().out
    assert "epoch 2: test loss" in printed and "checkpoint:" in printed
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["step"] for r in rows if r["kind"] == "step"][-1] == "8"  # 2 epochs x 4 steps
    model, meta = load_checkpoint(out / "last.safetensors")
    assert meta["epoch"] == 2.0
    assert "cam_timeline:" in printed  # --cam-probe: untrained + 2 epochs
    assert iio.imread(out / "cam_timeline.gif", index=None).shape[0] == 3 and meta["train_config"]["train_subset"] == 128

    assert classifier.main(["--resume", str(out), "--epochs", "3"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    steps = [int(r["step"]) for r in rows if r["kind"] == "step"]
    assert steps == list(range(1, 13))  # one continuous history
    assert load_checkpoint(out / "last.safetensors")[1]["epoch"] == 3.0


def test_recipe_flags_override_and_listing(tmp_path, capsys):
    assert classifier.main(["--list-recipes"]) == 0
    listing = capsys.readouterr().out
    assert "wrn-40-2-cifar10" in listing and '"milestones": [0.3, 0.6, 0.8]' in listing
    args = classifier.parse_args(["--recipe", "wrn-40-2-cifar10", "--epochs", "3", "--out", str(tmp_path)])
    config = classifier.config_from_args(args)
    assert (config.model, config.knobs, config.lr, config.weight_decay, config.gamma) == ("wide_resnet40_2", {"dropout": 0.3}, 0.1, 5e-4, 0.2)
    assert config.epochs == 3 and config.schedule == "multistep"


def test_errors_are_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "train.classifier", *TINY, "--lr", "-1", "--out", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: learning rate must be")
    result = subprocess.run([sys.executable, "-m", "train.classifier", "--dataset", "cifar10", "--out", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"CNNZOO_DATA_DIR": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "digits" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_stops_cleanly_with_a_resumable_checkpoint(tmp_path):
    """A real SIGINT mid-run: the loop finishes its step, saves, and the run can be resumed."""
    import os
    import signal
    import threading

    out = tmp_path / "run"
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        assert classifier.main([*TINY, "--epochs", "500", "--out", str(out)]) == 0
    finally:
        timer.cancel()
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert (rows[-1]["kind"], rows[-1]["reason"]) == ("end", "stopped")
    stopped_at = int(rows[-1]["step"])
    assert 0 < stopped_at < 500 * 4
    assert (out / "last.state.pt").exists()
    assert load_checkpoint(out / "last.safetensors")[1]["epoch"] < 500
