"""The GPU path, where there is a GPU: the same training loop on CUDA (resident data, channels_last,
mixed precision), a resumed run moving between devices, and torchrun over nccl on 2 GPUs.
Skipped with the reason elsewhere: the project builds and passes its tests on CPUs."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnzoo.checkpoints import load_checkpoint
from cnnzoo.trainer import TrainConfig, Trainer, evaluate

REPO = Path(__file__).resolve().parent.parent
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: the CPU path is tested elsewhere")
RUN = dict(model="resnet20", dataset="digits", image_size=32, epochs=2, batch_size=64, lr=0.1, schedule="onecycle")


@needs_cuda
def test_a_cuda_run_trains_in_mixed_precision_and_resumes_on_the_cpu(tmp_path):
    trainer = Trainer(TrainConfig(**RUN, device="cuda", out_dir=str(tmp_path)))
    events = list(trainer.run())
    assert events[-1].reason == "done" and trainer.device.type == "cuda" and trainer.precision == "bf16"
    assert trainer.images.device.type == "cuda"  # the data live on the GPU
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in trainer.model.parameters() if p.dim() == 4)
    assert events[-1].history[-2]["test_acc"] > 0.5
    model, meta = load_checkpoint(tmp_path / "last.safetensors")  # loads on the CPU
    assert evaluate(model, trainer.test_set)[1] == pytest.approx(meta["metrics"]["test_acc"], abs=1 / 360)
    resumed = Trainer(resume_from=tmp_path, override={"epochs": 3, "device": "cpu"})
    assert list(resumed.run())[-1].reason == "done" and resumed.step == 3 * (1437 // 64)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="torchrun over nccl needs 2 GPUs")
def test_two_gpu_ranks_train_over_nccl(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
               "train.classifier", "--model", "resnet20", "--dataset", "digits", "--image-size", "32", "--epochs", "1",
               "--device", "cuda", "--out", str(tmp_path / "ddp")]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "× 2 ranks" in done.stdout and "cuda" in done.stdout
    model, meta = load_checkpoint(tmp_path / "ddp" / "last.safetensors")
    assert meta["epoch"] == 1.0
