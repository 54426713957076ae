"""A small, fast all-convolutional baseline with a GAP head, for CPU classroom demos.

Three stages of two 3×3 conv-BN-ReLU layers, widths w, 2w, 4w. Between stages a 2×2 max-pool
halves the resolution; `downsample` says how many of those there are, which sets the size of
the final feature map CAM reads: 32×32 input -> 8×8 (downsample=2) or 16×16 (downsample=1).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from cnnzoo.models.common import Classifier, ClassifierHead, check_positive_int
from cnnzoo.registry import register_model


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SimpleCNN(Classifier):
    def __init__(self, num_classes=10, in_channels=3, width=32, downsample=2, pool="avg"):
        super().__init__()
        check_positive_int("width", width)
        check_positive_int("in_channels", in_channels)
        if downsample not in (0, 1, 2):
            raise ValueError(f"downsample must be 0, 1 or 2 (number of 2×2 max-pools), got {downsample!r}")
        widths = [width, 2 * width, 4 * width]
        layers, c = [], in_channels
        for stage, w in enumerate(widths):
            if 0 < stage <= downsample:
                layers.append(nn.MaxPool2d(2))  # halves h and w
            layers += [conv_bn_relu(c, w), conv_bn_relu(w, w)]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(c, num_classes, pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # (N, in_channels, H, W) -> (N, 4w, H / 2**downsample, W / 2**downsample)
        return self.features(x)


@register_model(family="simple")
def simple_cnn(num_classes=10, in_channels=3, width=32, downsample=2, pool="avg"):
    """Small 6-layer conv net with a GAP head: trains in seconds on a laptop CPU."""
    return SimpleCNN(num_classes, in_channels, width, downsample, pool)
