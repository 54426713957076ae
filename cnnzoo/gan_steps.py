"""The pieces of the two GAN games that are not networks: BCE on probabilities, WGAN's weight
clipping, a net frozen during the other's step, the generator's image range, and the mean of the
ranks' gradients under torchrun. Used by cnnzoo.gan_trainer, whose docstring gives the games."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn


def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN's weight clipping: every parameter of the critic into [−c, c], in place."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No parameter gradients for `module` inside the block (D during G's step: G's gradient
    still flows *through* D, but D's own weight gradients are not computed, saving work)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of probabilities p against a constant label (1: real, 0: fake):
    −mean[y ln p + (1 − y) ln(1 − p)], with p kept inside [ε, 1 − ε] (ε = float32's 1.2e-7; a
    saturated sigmoid gives exactly 0 or 1). Written out rather than F.binary_cross_entropy,
    which raises on NaN inputs: here a diverged run reaches the NaN guard and ends with a message."""
    eps = torch.finfo(torch.float32).eps
    p = p.float().clamp(eps, 1 - eps)
    return -(target * torch.log(p) + (1 - target) * torch.log1p(-p)).mean()


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [−1, 1], the tanh range of the generator: x/127.5 − 1."""
    return images.float().div_(127.5).sub_(1.0)
