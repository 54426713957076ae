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
from collections import OrderedDict

import torch
import torch.nn as nn

from cnnzoo.models.common import Classifier, ClassifierHead, blocks_per_stage, check_positive_int, he_init
from cnnzoo.registry import register_model

PAPER = "Huang et al. 2017, Densely Connected Convolutional Networks (arXiv:1608.06993)"


class DenseLayer(nn.Module):
    """H_l: (N, m, H, W) -> (N, m + k, H, W), its k new maps concatenated to its input.

    bottleneck: norm1-relu1-conv1 (1×1 to 4k), norm2-relu2-conv2 (3×3 to k); without it,
    norm1-relu1-conv1 (3×3 to k). The names are torchvision's.
    """

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool):
        super().__init__()
        # The 1×1 conv caps the 3×3 conv's input at 4k channels however wide the block gets.
        width, kernel_size = (4 * growth_rate, 1) if bottleneck else (growth_rate, 3)
        self.bottleneck = bottleneck
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size, padding=kernel_size // 2, bias=False)
        if bottleneck:
            self.norm2 = nn.BatchNorm2d(width)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(width, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv1(self.relu1(self.norm1(x)))          # (N, 4k, H, W); (N, k, H, W) without bottleneck
        if self.bottleneck:
            new = self.conv2(self.relu2(self.norm2(new)))    # (N, k, H, W)
        # Input first, then the k new maps: torchvision's order. The seed's code
        # (seed 003) writes cat([out, x]): only a permutation of the channels, which the next layer's
        # BN and conv weights absorb (permute them the same way), so the two nets are equivalent.
        return torch.cat([x, new], dim=1)                    # (N, m + k, H, W)


class DenseBlock(nn.Sequential):
    """denselayer1 … denselayer_n: (N, m, H, W) -> (N, m + n·k, H, W); layer i reads m + k·(i - 1) maps."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool):
        super().__init__(OrderedDict(
            (f"denselayer{i}", DenseLayer(in_channels + growth_rate * (i - 1), growth_rate, bottleneck))
            for i in range(1, num_layers + 1)
        ))


class Transition(nn.Sequential):
    """Between dense blocks: compress channels by θ with a 1×1 conv, halve H and W by avg-pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict(
            norm=nn.BatchNorm2d(in_channels),
            relu=nn.ReLU(inplace=True),
            conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),  # (N, floor(θ·m), H, W)
            pool=nn.AvgPool2d(2),                                      # (N, floor(θ·m), H/2, W/2)
        ))


class DenseNet(Classifier):
    """conv0 -> [denseblock_i -> transition_i] × (B - 1) -> denseblock_B -> norm5-relu5 -> head.

    block_config: layers per dense block, e.g. (16, 16, 16) for DenseNet-BC-100.
    stem_channels: 2k for DenseNet-BC, 16 for the basic DenseNet (paper sec. 4.1).
    Module names are torchvision's (norm5 whatever the number of blocks), without its
    `features.` prefix, so the layer table reads denseblock2.denselayer3.conv2, transition1.conv.
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
        self.conv0 = nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)
        c = stem_channels
        for i, num_layers in enumerate(block_config, start=1):
            self.add_module(f"denseblock{i}", DenseBlock(num_layers, c, growth_rate, bottleneck))
            c += num_layers * growth_rate
            if i < len(block_config):
                compressed = math.floor(reduction * c)
                self.add_module(f"transition{i}", Transition(c, compressed))
                c = compressed
        # Pre-activation layers end on a conv: one last BN-ReLU before pooling.
        self.norm5 = nn.BatchNorm2d(c)
        self.relu5 = nn.ReLU(inplace=True)
        self.num_blocks = len(block_config)
        self.num_features = c
        self.min_input_size = 2 ** (self.num_blocks - 1)  # each transition halves H and W
        self.head = ClassifierHead(c, num_classes, pool)
        self.apply(he_init)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_input_size:
            raise ValueError(
                f"this DenseNet needs inputs of at least {self.min_input_size}×{self.min_input_size} "
                f"pixels (its transitions halve H and W), got {tuple(x.shape)}"
            )
        # DenseNet-BC-100, k = 12, 32×32 input:
        #   conv0 (N, 24, 32, 32) -> denseblock1 (N, 216, 32, 32) -> transition1 (N, 108, 16, 16)
        #   -> denseblock2 (N, 300, 16, 16) -> transition2 (N, 150, 8, 8) -> denseblock3 (N, 342, 8, 8)
        x = self.conv0(x)
        for i in range(1, self.num_blocks):
            x = getattr(self, f"denseblock{i}")(x)   # + n·k channels
            x = getattr(self, f"transition{i}")(x)   # channels × θ, H/2, W/2
        x = getattr(self, f"denseblock{self.num_blocks}")(x)
        return self.relu5(self.norm5(x))


def cifar_block_config(depth, bottleneck: bool) -> tuple[int, int, int]:
    """Layers per dense block for a 3-block CIFAR DenseNet, or a ValueError listing valid depths."""
    if bottleneck:  # two convs per layer × 3 blocks
        n = blocks_per_stage(depth, 6, 4, "DenseNet-B (bottleneck=True)", "100, 190, 250")
    else:           # one conv per layer × 3 blocks
        n = blocks_per_stage(depth, 3, 4, "DenseNet (bottleneck=False)", "40, 100")
    return (n, n, n)


@register_model(family="densenet", paper=PAPER)
def densenet(*, num_classes=10, in_channels=3, depth=100, growth_rate=12, reduction=0.5,
             bottleneck=True, pool="avg"):
    """CIFAR DenseNet of any depth: 3 dense blocks, growth rate k, compression θ = reduction."""
    block_config = cifar_block_config(depth, bottleneck)
    return DenseNet(block_config, growth_rate, reduction, bottleneck,
                    num_classes=num_classes, in_channels=in_channels, pool=pool)


@register_model(family="densenet", paper=PAPER)
def densenet_bc_100_k12(*, num_classes=10, in_channels=3, pool="avg"):
    """DenseNet-BC-100, k=12 (0.8M parameters): 3 blocks of 16 bottleneck layers, θ = 0.5."""
    return DenseNet((16, 16, 16), 12, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)


@register_model(family="densenet", paper=PAPER)
def densenet_bc_250_k24(*, num_classes=10, in_channels=3, pool="avg"):
    """DenseNet-BC-250, k=24 (15.3M parameters): 3 blocks of 41 bottleneck layers. GPU only in practice."""
    return DenseNet((41, 41, 41), 24, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)


@register_model(family="densenet", paper=PAPER)
def densenet121(*, num_classes=10, in_channels=3, growth_rate=32, pool="avg"):
    """DenseNet-121 (blocks 6-12-24-16, k=32, θ=0.5) with a 3×3 stem for 32×32 images (ends at 4×4).

    The seed's code (seed 003: 3×3 stem, 4×4 average pool). The paper's ImageNet DenseNet-121
    (7×7/2 stem + 3×3/2 max-pool, 224×224 inputs) is not built here.
    """
    return DenseNet((6, 12, 24, 16), growth_rate, 0.5, True, num_classes=num_classes,
                    in_channels=in_channels, pool=pool)
