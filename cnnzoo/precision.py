"""The number format of the training step, decided on the machine that runs it.

    precision, why = choose_precision("auto", model, images, labels, device)
    with training_autocast(device, precision):
        loss = F.cross_entropy(model(images), labels)

On CUDA, "auto" is bf16 autocast (fp16 where bf16 is missing; cnnzoo.compute.autocast_for).
On a CPU it depends on the chip, so it is measured, never assumed:

- A CPU without native bf16 arithmetic (no AVX512-BF16, no AMX) emulates it: bf16 autocast
  measured 17× *slower* there. "auto" is fp32.
- A CPU with it (torch.cpu._is_avx512_bf16_supported / _is_amx_tile_supported) runs a big
  enough net's training step about twice as fast in bf16 (ResNet-20 on 32×32: 1.99×, WRN-16-4:
  2.09×, on an AVX-512/AMX Xeon) but a tiny one slower (simple_cnn on 8×8 digits: 0.68×,
  ResNet-20 on 16×16: 0.73×), where converting costs more than it saves. "auto" times a few
  forward-backward passes of a copy of the model on a real batch in fp32; a pass shorter than
  BF16_MIN_PASS_S stays fp32 (a small net), a longer one is timed in bf16 too, and bf16 is kept
  only when it is at least MIN_SPEEDUP faster.

Batch norm, softmax and the loss stay fp32 under autocast (PyTorch's autocast lists), and the
weights and the optimizer are fp32 throughout: only the convolutions' and matrix products'
inputs are rounded to bf16 (8 bits of mantissa), which SGD's noise swamps.
"""
from __future__ import annotations

import copy
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.compute import autocast_for

PRECISIONS = ("auto", "fp32", "bf16")
BF16_MIN_PASS_S = 0.06  # fp32 forward-backward of one batch; below it bf16 measured slower on the CPU
MIN_SPEEDUP = 1.1  # bf16 must beat fp32 by this much to be chosen (timing noise, rounding)
CALIBRATION_STEPS = 3  # timed forward-backward passes each way, after one warm-up each


def cpu_has_native_bf16() -> bool:
    """Does this CPU compute bf16 in hardware (AVX512-BF16 or AMX)? CNNZOO_CPU_BF16=0 says no."""
    if os.environ.get("CNNZOO_CPU_BF16") == "0":
        return False
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def training_autocast(device: torch.device, precision: str):
    """The autocast context of a training step in `precision` ("fp32" or "bf16"; CUDA: autocast_for)."""
    if device.type == "cuda":
        return autocast_for(device)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def _pass_seconds(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, precision: str) -> float:
    times = []
    for _ in range(CALIBRATION_STEPS + 1):  # the first is a warm-up (allocations, kernel choice)
        started = time.perf_counter()
        with training_autocast(images.device, precision):
            loss = F.cross_entropy(model(images), labels)
        loss.backward()
        times.append(time.perf_counter() - started)
        model.zero_grad(set_to_none=True)
    return min(times[1:])


def choose_precision(requested: str, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     device: torch.device) -> tuple[str, str]:
    """(precision, why): "fp32" or "bf16" for a training step on batches like images (N, C, H, W).

    "fp32" and "bf16" are taken as asked (bf16 on a CPU without it is allowed, but slow);
    "auto" follows the module's rules above. The model itself is never touched: the timing runs
    on a deep copy (its batch-norm statistics would move).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    if requested != "auto":
        return requested, "as asked"
    if device.type == "cuda":
        return "bf16", "CUDA: mixed precision"
    if device.type != "cpu":
        return "fp32", f"{device.type}: fp32 (bf16 on it is a choice: precision 'bf16')"
    if not cpu_has_native_bf16():
        return "fp32", "this CPU has no native bf16"
    probe = copy.deepcopy(model).train()
    fp32 = _pass_seconds(probe, images, labels, "fp32")
    if fp32 < BF16_MIN_PASS_S:
        return "fp32", f"a small net ({fp32 * 1000:.0f} ms per batch): bf16 would be slower"
    bf16 = _pass_seconds(probe, images, labels, "bf16")
    speedup = fp32 / bf16
    if speedup >= MIN_SPEEDUP:
        return "bf16", f"measured {speedup:.2f}× faster than fp32 on this CPU"
    return "fp32", f"bf16 measured {speedup:.2f}× fp32's speed on this CPU"
