"""A small, fast all-convolutional baseline with a GAP head, for CPU classroom demos.

Three stages of two 3×3 conv-BN-ReLU layers, widths w, 2w, 4w. Between stages a 2×2 max-pool
halves the resolution; `downsample` says how many of those there are, which sets the size of
the final feature map CAM reads: 32×32 input -> 8×8 (downsample=2) or 16×16 (downsample=1).

    stage1   conv1-bn1-relu1, conv2-bn2-relu2                 (N, w, H, W)
    stage2   [pool] conv1-bn1-relu1, conv2-bn2-relu2          (N, 2w, H/2, W/2) with the pool
    stage3   [pool] conv1-bn1-relu1, conv2-bn2-relu2          (N, 4w, H/4, W/4) with both pools
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from cnnzoo.models.common import Classifier, ClassifierHead, check_positive_int
from cnnzoo.registry import register_model

PAPER = "cnnzoo's own baseline; its GAP head is Zhou et al. 2016, Learning Deep Features for " \
        "Discriminative Localization (arXiv:1512.04150)"


def simple_stage(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    """[2×2 max-pool,] two 3×3 conv-BN-ReLU layers, named like torchvision's BasicBlock."""
    layers = [("pool", nn.MaxPool2d(2))] if pool else []  # halves H and W
    for i, c in ((1, in_channels), (2, out_channels)):
        layers += [
            # No bias: the BatchNorm that follows subtracts the mean and has its own shift.
            (f"conv{i}", nn.Conv2d(c, out_channels, 3, padding=1, bias=False)),
            (f"bn{i}", nn.BatchNorm2d(out_channels)),
            (f"relu{i}", nn.ReLU(inplace=True)),
        ]
    return nn.Sequential(OrderedDict(layers))


class SimpleCNN(Classifier):
    def __init__(self, num_classes=10, in_channels=3, width=32, downsample=2, pool="avg"):
        super().__init__()
        check_positive_int("width", width)
        check_positive_int("in_channels", in_channels)
        if downsample not in (0, 1, 2):
            raise ValueError(f"downsample must be 0, 1 or 2 (number of 2×2 max-pools), got {downsample!r}")
        self.stage1 = simple_stage(in_channels, width, pool=False)
        self.stage2 = simple_stage(width, 2 * width, pool=downsample >= 1)
        self.stage3 = simple_stage(2 * width, 4 * width, pool=downsample >= 2)
        self.num_features = 4 * width
        self.head = ClassifierHead(self.num_features, num_classes, pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # downsample=2:
        x = self.stage1(x)        # (N, w, H, W)
        x = self.stage2(x)        # (N, 2w, H/2, W/2)
        return self.stage3(x)     # (N, 4w, H/4, W/4)


@register_model(family="simple", paper=PAPER)
def simple_cnn(num_classes=10, in_channels=3, width=32, downsample=2, pool="avg"):
    """Small 6-layer conv net with a GAP head: trains in seconds on a laptop CPU."""
    return SimpleCNN(num_classes, in_channels, width, downsample, pool)
