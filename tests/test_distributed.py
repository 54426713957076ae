"""torchrun: 2 CPU ranks (gloo) train one run; rank 0's files; agreed stops; resume with 1 rank."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from cnnzoo import data as datasets
from cnnzoo.checkpoints import load_checkpoint
from cnnzoo.distributed import Ranks
from cnnzoo.runs import read_record
from cnnzoo.trainer import evaluate

REPO = Path(__file__).resolve().parent.parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "train.classifier"]
RUN = ["--model", "simple_cnn", "--knobs", '{"width": 8}', "--dataset", "digits", "--batch-size", "64", "--lr", "0.05"]


def torchrun(*flags, timeout=300) -> subprocess.CompletedProcess:
    done = subprocess.run([*TORCHRUN, *flags], cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_shards_cover_each_global_batch_once_and_parts_split_a_dataset():
    batch = torch.arange(7)
    shards = [Ranks(r, 2).shard(batch) for r in range(2)]
    assert [s.tolist() for s in shards] == [[0, 2, 4, 6], [1, 3, 5, 0]]  # padded with the batch's first index
    parts = [Ranks(r, 3).part(10) for r in range(3)]
    assert [list(range(10))[p] for p in parts] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert Ranks().shard(batch) is batch and Ranks().largest(3) == 3


def test_two_ranks_train_one_run_that_one_rank_resumes(tmp_path):
    out = tmp_path / "ddp"
    done = torchrun(*RUN, "--epochs", "1", "--out", str(out))
    assert "× 2 ranks" in done.stdout and done.stdout.count("done: test accuracy") == 1  # rank 0 alone speaks
    with safe_open(str(out / "last.safetensors"), "pt") as weights:
        assert not any(key.startswith("module.") for key in weights.keys())
    model, meta = load_checkpoint(out / "last.safetensors")
    record = read_record(out)
    final = [e for e in record["events"] if e["kind"] == "eval"][-1]
    test = datasets.with_normalisation(datasets.load_dataset("digits", "test"), "dataset")
    loss, accuracy = evaluate(model, test)  # one process, the whole test set
    assert final["test_acc"] == pytest.approx(accuracy, abs=1e-9) and final["test_loss"] == pytest.approx(loss, rel=1e-4)
    steps = record["total_steps"]
    assert steps == 1437 // 64  # the global batch: the steps of a one-process run

    resumed = subprocess.run([sys.executable, "-m", "train.classifier", "--resume", str(out), "--epochs", "2"],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    record = read_record(out)
    logged = [e["step"] for e in record["events"] if e["kind"] == "step"]
    assert logged == sorted(logged) and logged[-1] == 2 * steps and record["status"] == "done"


def test_ctrl_c_on_one_rank_stops_both_with_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "stopped"
    launcher = subprocess.Popen([*TORCHRUN, *RUN, "--epochs", "500", "--out", str(out)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "last.state.pt").exists():  # the first epoch is done
            assert time.monotonic() < deadline and launcher.poll() is None, launcher.communicate()
            time.sleep(0.2)
        rank1 = [pid for pid in child_pids(launcher.pid) if b"RANK=1\0" in Path(f"/proc/{pid}/environ").read_bytes()]
        os.kill(rank1[0], signal.SIGINT)  # the rank that writes nothing
        stdout, stderr = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, stderr[-3000:]
    assert "stopped at step" in stdout
    record = read_record(out)
    assert record["status"] == "stopped"
    stopped_at = json.loads((out / "record.json").read_text())["events"][-1]["step"]
    again = subprocess.run([sys.executable, "-m", "train.classifier", "--resume", str(out), "--epochs", "500",
                            "--time-limit", "0.5"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert read_record(out)["events"][-1]["step"] > stopped_at


def test_synchronised_batchnorm_on_cpu_says_it_needs_gpus(tmp_path):
    done = subprocess.run([*TORCHRUN, *RUN, "--epochs", "1", "--sync-batchnorm", "--out", str(tmp_path / "s")],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "SyncBatchNorm has no CPU" in done.stderr


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children]


def test_two_ranks_train_a_gan_that_one_rank_resumes(tmp_path):
    out = tmp_path / "wgan"
    gan = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "train.gan"]
    flags = ["--model", "wgan", "--dataset", "digits", "--width", "8", "--batch-size", "16", "--n-critic", "2",
             "--sample-every", "4", "--scorer", "none", "--out", str(out)]
    done = subprocess.run([*gan, *flags, "--steps", "8"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "× 2 ranks" in done.stdout and done.stdout.count("done at step 8") == 1
    with safe_open(str(out / "generator.safetensors"), "pt") as weights:
        assert not any(key.startswith("module.") for key in weights.keys())
    generator, meta = load_checkpoint(out / "generator.safetensors")
    assert meta["steps"] == 8
    again = subprocess.run([sys.executable, "-m", "train.gan", "--resume", str(out), "--steps", "12"],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    steps = [e["step"] for e in read_record(out)["events"] if e["kind"] == "step"]
    assert steps[-1] == 12 and steps == sorted(steps)
