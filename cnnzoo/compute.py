"""Where and how a model computes: the device, mixed precision, memory layout, seeded random
numbers, eval mode, and running a model over many images in batches.

    device = pick_device("auto")                  # the accelerator when there is one (cuda, mps, xpu), else cpu
    with eval_mode(model):                        # BatchNorm on running statistics, dropout off
        logits = predict_logits(model, images, mean, std)   # uint8 (N, C, H, W) -> (N, K)

The trainers, CAM, the GAN tools and the quality score all run models through these few
functions, so a choice made here (channels_last, autocast) holds everywhere.

`training_rate(device)` measures how many training multiply-accumulates per second this machine
sustains (on first use, then at most every 30 s): what cnnzoo.trace_calc.epoch_estimate divides by.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# channels_last measured +10-20% for ResNets and ~20% for the DCGAN nets on these CPUs, and
# cuDNN prefers it under autocast. Applied to models and to every batch they see.
MEMORY_FORMAT = torch.channels_last


# What "auto" means in this process, where it is not torch's accelerator: a ZeroGPU Space's main
# process sets "cpu" (torch there reports a GPU that only its GPU calls may use; see ui/gpu.py).
AUTO_DEVICE: str | None = None


def pick_device(name: str = "auto") -> torch.device:
    """"auto": this machine's accelerator when it has one (torch.accelerator: CUDA, Apple's MPS,
    Intel's XPU, ...), else the CPU; "cpu", "cuda[:i]", "mps", "xpu" as asked, or a ValueError
    saying what this machine has."""
    if name == "auto" and AUTO_DEVICE is not None:
        return torch.device(AUTO_DEVICE)
    available = torch.accelerator.current_accelerator(check_available=True)
    if name == "auto":
        return available or torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu' or an accelerator such as 'cuda'") from None
    if device.type != "cpu" and (available is None or available.type != device.type):
        have = f"this machine's accelerator is {available.type}" if available else "this machine has no accelerator"
        raise ValueError(f"{device.type} was asked for but {have}; use device 'auto' or 'cpu'.")
    return device


def autocast_for(device: torch.device):
    """Mixed precision on CUDA (bf16 where supported, else fp16); plain fp32 on the CPU
    (bf16 autocast measured 17× slower on a CPU without native bf16)."""
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return torch.autocast("cpu", enabled=False)


def seeded_generator(device: torch.device, *numbers: int) -> torch.Generator:
    """A random generator whose stream depends only on the given numbers (seed, epoch, step…):
    what makes every batch a pure function of its position, so a resumed run continues exactly."""
    seed = 0
    for n in numbers:
        seed = (seed * 1_000_003 + int(n)) % (2**63 - 1)
    return torch.Generator(device=device).manual_seed(seed)


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Inside the block the model is in eval mode; afterwards every module has its own
    train/eval flag back (model.train(flag) would set one flag on all of them), also after
    an error. The habit of torch-cam's `_eval_mode`."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags.items():
            module.training = training


def resize_uint8(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) to (N, C, h, w): bilinear, antialiased when shrinking.
    A size of (h, w) or one side for a square; images already that size pass as they are."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[2:]) == size:
        return images
    out = []
    for chunk in images.split(2048):  # bounds the float copy for 60,000-image datasets
        x = F.interpolate(chunk.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (x/255 − mean) / std per channel, on the images' device."""
    c = images.shape[1]
    mean = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(1, c, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(1, c, 1, 1)
    return images.float().div_(255).sub_(mean).div_(std)  # in place on the new float copy


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, mean, std, *, batch_size: int = 512,
                   size: tuple[int, int] | None = None) -> torch.Tensor:
    """Logits (N, K) on the CPU for uint8 images (N, C, H, W), in eval mode, in batches.

    The images go through the model's own input pipeline: resized to `size` when given (so
    32×32 GAN samples can be scored by an 8×8 digits net), then normalised with its mean/std.
    """
    param = next(model.parameters())
    chunks = []
    with eval_mode(model):
        for part in images.split(batch_size):
            x = part.to(param.device, non_blocking=True)
            if size is not None:
                x = resize_uint8(x, size)
            x = normalize(x, mean, std).contiguous(memory_format=MEMORY_FORMAT)
            with autocast_for(param.device):
                chunks.append(model(x).float().cpu())
    return torch.cat(chunks) if chunks else torch.empty(0, 0)


# ---------------------------------------------------------------------------------------------
# How fast this machine trains
# ---------------------------------------------------------------------------------------------

_rates: dict[str, tuple[float, float]] = {}  # device -> (fastest rate measured, when: time.monotonic())
_rate_lock = threading.Lock()  # thirty first requests at once measure once, not thirty times
REMEASURE_S = 30.0
CALIBRATION_BATCH = 64


def training_rate(device: str = "auto", seconds: float = 0.3) -> float:
    """Training multiply-accumulates per second on `device`: a few timed SGD steps of a small
    ResNet-20-sized CNN (CALIBRATION_BATCH images of 3×32×32) for about `seconds`, after a
    warm-up. One step counts as 3 × the forward MACs (see cnnzoo.trace_calc.EpochEstimate).
    Measured with the trainer's settings (channels_last, autocast_for, torch's thread count).

    Other work slows a measurement down, never up: on a 2-core machine a web server's other
    requests (a trace is pure Python, holding the GIL and a core) made it read 5-10× too slow.
    So the fastest step counts, and a call more than REMEASURE_S after the last measurement
    measures again and keeps the faster rate: the estimates converge on the machine's speed."""
    device = pick_device(device)
    with _rate_lock:
        rate, when = _rates.get(str(device), (0.0, -math.inf))
        if time.monotonic() - when > REMEASURE_S:
            rate = max(rate, _measure_training_rate(device, seconds))
            _rates[str(device)] = (rate, time.monotonic())
        return rate


def _measure_training_rate(device: torch.device, seconds: float) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.random.fork_rng(devices=[]):  # made on the CPU; its global RNG is left as it was
        torch.manual_seed(0)
        model = nn.Sequential(  # (N, 3, 32, 32) -> (N, 16, 32, 32) -> (N, 32, 16, 16) -> (N, 64, 8, 8) -> (N, 10)
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
        ).to(device, memory_format=MEMORY_FORMAT)
        x = torch.randn(CALIBRATION_BATCH, 3, 32, 32).to(device).contiguous(memory_format=MEMORY_FORMAT)
    y = torch.arange(CALIBRATION_BATCH, device=device) % 10
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    macs_per_step = 3 * counter.get_total_flops() // 2

    def step():
        with autocast_for(device):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(), step()  # warm-up: first-call allocations and kernel choices
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        began = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - began)
    return macs_per_step / min(times)  # the fastest step: other work on the machine can only slow steps down
