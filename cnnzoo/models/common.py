"""What every classifier in the zoo shares: the features/head seam.

    logits = model.forward_head(model.forward_features(x))
             features: (N, C, h, w)  ->  logits: (N, num_classes)

CAM, the shape tracer and the loss landscape use this seam instead of per-model code.
"""
from __future__ import annotations

import torch
import torch.nn as nn

POOLS = ("avg", "max")


class ClassifierHead(nn.Module):
    """Global pooling + linear, the head of the CAM paper (Zhou et al. 2016).

    pool="avg" is global average pooling (GAP); pool="max" is global max pooling (GMP),
    the variant the paper compares against. `fc` holds w_k^c, the weights CAM reads.
    """

    def __init__(self, in_features: int, num_classes: int, pool: str = "avg"):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        check_positive_int("num_classes", num_classes)
        self.pool = pool
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        # (N, C, h, w) -> (N, C) -> (N, num_classes)
        if self.pool == "avg":
            pooled = features.mean(dim=(2, 3))
        else:
            pooled = features.amax(dim=(2, 3))
        return self.fc(pooled)


class Classifier(nn.Module):
    """Base class: subclasses define forward_features and set self.head (or override forward_head)."""

    head: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """ValueError with the fix when a knob is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
