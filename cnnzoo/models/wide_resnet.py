"""Wide residual networks: Zagoruyko & Komodakis, "Wide Residual Networks" (BMVC 2016).

WRN-d-k is a CIFAR ResNet made k times wider and much shallower: the paper finds that width,
not extreme depth, buys accuracy, and that wide nets use a GPU far better. Two of its results
(Table 5, sec. "computational efficiency"): WRN-40-4 reaches about the accuracy of the thin
pre-activation ResNet-1001 and trains 8× faster; WRN-28-10 is 1.6× faster than ResNet-1001
*and* more accurate (CIFAR-10 error 0.92 points lower, CIFAR-100 3.46 points lower).

    stem      3×3 conv, 16 channels                      (N, 16, 32, 32)
    stage 1   n blocks, 16·k channels, stride 1          (N, 16k, 32, 32)
    stage 2   n blocks, 32·k channels, stride 2          (N, 32k, 16, 16)
    stage 3   n blocks, 64·k channels, stride 2          (N, 64k, 8, 8)
    BN-ReLU, global average pooling, linear

depth d = 6n + 4: the stem conv, 3 stages × n blocks × 2 convs, and (counted by the paper)
the 1×1 projections, one per stage. Blocks are "B(3,3)" pre-activation blocks (He et al. 2016,
"Identity Mappings"): BN-ReLU-conv3×3-BN-ReLU-dropout-conv3×3, dropout between the convs.

Init as the WRN tutorial's code (seed 000 b): he_init (kaiming_normal fan_out, BN γ = 1,
β = 0) and the linear layer's bias set to 0 (its weight keeps PyTorch's default). The other
families keep PyTorch's default fc bias: none of their seeds' code zeroes it.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from cnnzoo.models.common import Classifier, ClassifierHead, blocks_per_stage, check_positive_int, he_init
from cnnzoo.registry import register_model

PAPER = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"


class WideBasicBlock(nn.Module):
    """Pre-activation B(3,3) block: out = conv2(drop(relu(bn2(conv1(relu(bn1(x))))))) + shortcut.

    When the shape changes, the shortcut is a 1×1 conv (with the stride) applied to the same
    pre-activated input relu(bn1(x)) the branch sees, as in the authors' code.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.relu(self.bn1(x))                                  # (N, C_in, H, W)
        out = self.conv1(activated)                                         # (N, C_out, H/s, W/s)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))            # (N, C_out, H/s, W/s)
        identity = x if self.shortcut is None else self.shortcut(activated)
        return out + identity


class WideResNet(Classifier):
    def __init__(self, depth=28, widen_factor=10, dropout=0.0, num_classes=10, in_channels=3,
                 pool="avg"):
        super().__init__()
        n = blocks_per_stage(depth, 6, 4, "Wide ResNet", "16, 22, 28, 40")
        check_positive_int("widen_factor", widen_factor)
        check_positive_int("in_channels", in_channels)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (the paper uses 0.3), got {dropout!r}")
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]

        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        stages, c = [], widths[0]
        for out_channels, stride in zip(widths[1:], (1, 2, 2)):
            blocks = [WideBasicBlock(c, out_channels, stride, dropout)]
            blocks += [WideBasicBlock(out_channels, out_channels, 1, dropout) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            c = out_channels
        self.stage1, self.stage2, self.stage3 = stages
        # Pre-activation blocks end on a conv: one last BN-ReLU before pooling.
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.num_features = c
        self.head = ClassifierHead(c, num_classes, pool)
        self.apply(he_init)
        nn.init.zeros_(self.head.fc.bias)  # the seed's code: Linear bias = 0

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)           # (N, 16, 32, 32)
        x = self.stage1(x)          # (N, 16k, 32, 32)
        x = self.stage2(x)          # (N, 32k, 16, 16)
        x = self.stage3(x)          # (N, 64k, 8, 8)
        return self.relu(self.bn(x))


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet(*, num_classes=10, in_channels=3, depth=28, widen_factor=10, dropout=0.0, pool="avg"):
    """WRN-depth-k: any depth 6n+4 and widening factor k (channels 16, 16k, 32k, 64k)."""
    return WideResNet(depth, widen_factor, dropout, num_classes, in_channels, pool)


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet16_4(*, num_classes=10, in_channels=3, dropout=0.0, pool="avg"):
    """WRN-16-4: 16 layers, 4× wider than a ResNet (2.7M parameters)."""
    return WideResNet(16, 4, dropout, num_classes, in_channels, pool)


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet16_8(*, num_classes=10, in_channels=3, dropout=0.0, pool="avg"):
    """WRN-16-8: 16 layers, 8× wider (11.0M parameters)."""
    return WideResNet(16, 8, dropout, num_classes, in_channels, pool)


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet28_10(*, num_classes=10, in_channels=3, dropout=0.0, pool="avg"):
    """WRN-28-10: 28 layers, 10× wider (36.5M parameters), the paper's flagship. GPU only in practice."""
    return WideResNet(28, 10, dropout, num_classes, in_channels, pool)


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet40_2(*, num_classes=10, in_channels=3, dropout=0.0, pool="avg"):
    """WRN-40-2: 40 layers, 2× wider (2.2M parameters)."""
    return WideResNet(40, 2, dropout, num_classes, in_channels, pool)


@register_model(family="wide_resnet", paper=PAPER)
def wide_resnet40_4(*, num_classes=10, in_channels=3, dropout=0.0, pool="avg"):
    """WRN-40-4: 40 layers, 4× wider (8.9M parameters)."""
    return WideResNet(40, 4, dropout, num_classes, in_channels, pool)
