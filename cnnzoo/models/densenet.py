"""Densely connected networks: Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017).

Inside a dense block every layer sees the concatenation of all earlier feature maps and adds
k new ones (k = growth_rate): layer l gets k0 + k·(l - 1) input channels,
    x_l = H_l([x_0, x_1, …, x_{l-1}]).
Concatenation (not the sum of a ResNet) keeps every earlier feature reachable, so each layer
can be narrow (k = 12 on CIFAR) and the net needs few parameters.

    H_l         BN-ReLU-conv3×3 to k                       ("pre-activation", He et al. 2016)
    bottleneck  BN-ReLU-conv1×1 to 4k, then BN-ReLU-conv3×3 to k   (DenseNet-B)
    transition  BN-ReLU-conv1×1 to floor(θ·m) channels, 2×2 avg-pool  (θ < 1: DenseNet-C)
    DenseNet-BC = both; θ is `reduction` (0.5 in the paper).

CIFAR layout (32×32): a 3×3 stem conv to 2k channels (BC) or 16, three dense blocks of equal
length with transitions between them (32 -> 16 -> 8), a final BN-ReLU, global average pooling
and a linear layer. depth counts the convs and the linear layer:
    with bottleneck:    depth = 6n + 4  (n layers of two convs per block)
    without:            depth = 3n + 4
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from cnnzoo.models.common import Classifier, ClassifierHead, check_positive_int
from cnnzoo.registry import register_model


def bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
    )


class DenseLayer(nn.Module):
    """H_l: (N, m, H, W) -> (N, m + k, H, W), its k new maps concatenated to its input."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool):
        super().__init__()
        if bottleneck:
            # The 1×1 conv caps the 3×3 conv's input at 4k channels however wide the block gets.
            self.body = nn.Sequential(
                bn_relu_conv(in_channels, 4 * growth_rate, 1),   # (N, 4k, H, W)
                bn_relu_conv(4 * growth_rate, growth_rate, 3),   # (N, k, H, W)
            )
        else:
            self.body = bn_relu_conv(in_channels, growth_rate, 3)  # (N, k, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class Transition(nn.Sequential):
    """Between dense blocks: compress channels by θ with a 1×1 conv, halve H and W by avg-pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            bn_relu_conv(in_channels, out_channels, 1),  # (N, floor(θ·m), H, W)
            nn.AvgPool2d(2),                             # (N, floor(θ·m), H/2, W/2)
        )


class DenseNet(Classifier):
    """Stem -> [dense block -> transition] × (B - 1) -> dense block -> BN-ReLU -> head.

    block_config: layers per dense block, e.g. (16, 16, 16) for DenseNet-BC-100.
    stem_channels: 2k for DenseNet-BC, 16 for the basic DenseNet (paper sec. 4.1).
    """

    def __init__(self, block_config, growth_rate=12, reduction=0.5, bottleneck=True,
                 stem_channels=None, num_classes=10, in_channels=3, pool="avg"):
        super().__init__()
        check_positive_int("growth_rate", growth_rate)
        check_positive_int("in_channels", in_channels)
        if not 0.0 < reduction <= 1.0:
            raise ValueError(f"reduction (θ) must be in (0, 1]; the paper uses 0.5 (1 = no compression), got {reduction!r}")
        if stem_channels is None:
            stem_channels = 2 * growth_rate if bottleneck and reduction < 1 else 16

        # 32×32 input: a 3×3 stride-1 stem keeps the resolution (ImageNet uses 7×7/2 + max-pool).
        layers = [nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)]
        c = stem_channels
        for i, num_layers in enumerate(block_config):
            for _ in range(num_layers):
                layers.append(DenseLayer(c, growth_rate, bottleneck))
                c += growth_rate
            if i < len(block_config) - 1:
                compressed = math.floor(reduction * c)
                layers.append(Transition(c, compressed))
                c = compressed
        # Pre-activation layers end on a conv: one last BN-ReLU before pooling.
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.num_features = c
        self.min_input_size = 2 ** (len(block_config) - 1)  # each transition halves H and W
        self.head = ClassifierHead(c, num_classes, pool)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(
                f"this DenseNet needs inputs of at least {self.min_input_size}×{self.min_input_size} "
                f"pixels (its transitions halve H and W), got {tuple(x.shape)}"
            )
        # DenseNet-BC-100, k = 12, 32×32 input:
        #   stem (N, 24, 32, 32) -> block 1 (N, 216, 32, 32) -> transition (N, 108, 16, 16)
        #   -> block 2 (N, 300, 16, 16) -> transition (N, 150, 8, 8) -> block 3 (N, 342, 8, 8)
        return self.features(x)


def cifar_block_config(depth, bottleneck: bool) -> tuple[int, int, int]:
    """Layers per dense block for a 3-block CIFAR DenseNet, or a ValueError listing valid depths."""
    per_layer = 6 if bottleneck else 3  # convs per layer (2 or 1) × 3 blocks
    valid = isinstance(depth, int) and not isinstance(depth, bool)
    if not valid or depth < per_layer + 4 or (depth - 4) % per_layer:
        examples = ", ".join(str(per_layer * n + 4) for n in range(1, 6))
        paper = "100, 190, 250" if bottleneck else "40, 100"
        raise ValueError(
            f"DenseNet depth must be {per_layer}n + 4 with bottleneck={bottleneck} "
            f"({examples}, …, e.g. the paper's {paper}); got {depth!r}"
        )
    n = (depth - 4) // per_layer
    return (n, n, n)


@register_model(family="densenet")
def densenet(*, num_classes=10, in_channels=3, depth=100, growth_rate=12, reduction=0.5,
             bottleneck=True, pool="avg"):
    """CIFAR DenseNet of any depth: 3 dense blocks, growth rate k, compression θ = reduction."""
    block_config = cifar_block_config(depth, bottleneck)
    return DenseNet(block_config, growth_rate, reduction, bottleneck,
                    num_classes=num_classes, in_channels=in_channels, pool=pool)


@register_model(family="densenet")
def densenet_bc_100_k12(*, num_classes=10, in_channels=3, pool="avg"):
    """DenseNet-BC-100, k=12 (0.8M parameters): 3 blocks of 16 bottleneck layers, θ = 0.5."""
    return DenseNet((16, 16, 16), 12, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)


@register_model(family="densenet")
def densenet_bc_250_k24(*, num_classes=10, in_channels=3, pool="avg"):
    """DenseNet-BC-250, k=24 (15.3M parameters): 3 blocks of 41 bottleneck layers. GPU only in practice."""
    return DenseNet((41, 41, 41), 24, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)


@register_model(family="densenet")
def densenet121(*, num_classes=10, in_channels=3, growth_rate=32, pool="avg"):
    """DenseNet-121 (blocks 6-12-24-16, k=32, θ=0.5) with a 3×3 stem for 32×32 images (ends at 4×4)."""
    return DenseNet((6, 12, 24, 16), growth_rate, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)
