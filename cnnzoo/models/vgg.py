"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (ICLR 2015, arXiv:1409.1556).

The paper's one idea: depth from nothing but small 3×3 convolutions. Two stacked 3×3 layers
see a 5×5 field and three see 7×7, with fewer weights than one large filter (3·3²C² = 27C²
against 7²C² = 49C² for C channels in and out) and a ReLU between each. Every configuration
(Table 1) is five stages of 3×3 conv-ReLU layers (stride 1, padding 1: the size stays), each
stage ending in a 2×2 max-pool (stride 2: the size halves), with widths 64, 128, 256, 512,
512, and then three fully connected layers FC-4096, FC-4096, FC-1000:

    config  builder  convs per stage  weight layers  parameters    MACs at 224×224
    A       vgg11    1 1 2 2 2        11             132,863,336    7.61 G
    B       vgg13    2 2 2 2 2        13             133,047,848   11.31 G
    D       vgg16    2 2 3 3 3        16             138,357,544   15.47 G
    E       vgg19    2 2 4 4 4        19             143,667,240   19.63 G

(1000 classes; equal to torchvision's vgg11 … vgg19, as tests/test_models.py checks.) The
34-layer plain and residual nets of He et al. 2016 need 3.6 G, 18% of VGG-19's 19.6 G. Most
of VGG's weights sit in fc6 (25088·4096 = 103M), nearly all its MACs in the convs: with the
width doubling where the map halves, every 3×3 conv but a stage's first costs the same
1.85 G up to stage 4 (fc6-fc8 together: 0.12 G).

batch_norm=True (vgg11_bn …) puts a BatchNorm after every conv (Ioffe & Szegedy 2015, after
the paper, which instead initialised its deeper nets from the trained net A); the convs keep
their bias, as in torchvision's *_bn, so the counts are torchvision's too.

The head is torchvision's: adaptive average pooling to 7×7, then the paper's three FC
layers with dropout 0.5 after the first two (sec. 3.1). A 224×224 input reaches the head as
7×7, so the pooling changes nothing; a 32×32 one reaches it as 1×1, copied to 7×7.
Module names follow the Caffe model's conv3_2, fc6: stage3.conv2, head.fc6; the last layer
is head.fc (the paper's fc8), as in every classifier head of the zoo.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from cnnzoo.models.common import IMAGENET, Classifier, check_positive_int, he_init
from cnnzoo.registry import register_model

PAPER = "Simonyan & Zisserman 2015, Very Deep Convolutional Networks for Large-Scale Image Recognition (arXiv:1409.1556)"

# weight layers -> 3×3 convs per stage, the paper's Table 1 (configurations A, B, D, E).
CONFIGS = {
    11: (1, 1, 2, 2, 2),  # A
    13: (2, 2, 2, 2, 2),  # B
    16: (2, 2, 3, 3, 3),  # D
    19: (2, 2, 4, 4, 4),  # E
}
WIDTHS = (64, 128, 256, 512, 512)  # channels per stage: doubling after each pool, capped at 512


def vgg_stage(in_channels: int, out_channels: int, num_convs: int, batch_norm: bool) -> nn.Sequential:
    """num_convs × (3×3 conv [-BN] -ReLU), then a 2×2 max-pool: (N, C_in, H, W) -> (N, C_out, H/2, W/2)."""
    layers = []
    for i in range(1, num_convs + 1):
        layers.append((f"conv{i}", nn.Conv2d(in_channels if i == 1 else out_channels, out_channels, 3, padding=1)))
        if batch_norm:
            layers.append((f"bn{i}", nn.BatchNorm2d(out_channels)))
        layers.append((f"relu{i}", nn.ReLU(inplace=True)))
    layers.append(("pool", nn.MaxPool2d(kernel_size=2, stride=2)))
    return nn.Sequential(OrderedDict(layers))


class VGGHead(nn.Module):
    """Adaptive average pool to 7×7 -> flatten -> fc6 -> ReLU -> dropout -> fc7 -> ReLU -> dropout -> fc."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 4096, dropout: float = 0.5,
                 pooled_size: int = 7):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (the paper uses 0.5), got {dropout!r}")
        self.avgpool = nn.AdaptiveAvgPool2d(pooled_size)
        self.fc6 = nn.Linear(in_channels * pooled_size * pooled_size, hidden)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(dropout)
        self.fc7 = nn.Linear(hidden, hidden)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, num_classes)  # the paper's fc8

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(features).flatten(1)    # (N, 512, 7, 7) -> (N, 25088)
        x = self.drop6(self.relu6(self.fc6(x)))  # (N, 4096)
        x = self.drop7(self.relu7(self.fc7(x)))  # (N, 4096)
        return self.fc(x)                        # (N, num_classes)


def vgg_init(module: nn.Module) -> None:
    """torchvision's VGG initialisation: he_init for convs and BN, zero biases, fc ~ N(0, 0.01²)."""
    he_init(module)
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0, 0.01)
    if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
        nn.init.zeros_(module.bias)


class VGG(Classifier):
    """Five stages of 3×3 convs, each halving the size with a max-pool -> VGGHead.

    convs_per_stage: one of CONFIGS' values, e.g. (2, 2, 3, 3, 3) for VGG-16.
    widths, hidden: the paper's 64 … 512 channels and 4096 FC units; smaller ones make a
    toy VGG for tests.
    """

    def __init__(self, convs_per_stage, batch_norm=False, num_classes=10, in_channels=3, dropout=0.5,
                 widths=WIDTHS, hidden=4096):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        if len(convs_per_stage) != 5 or len(widths) != 5:
            raise ValueError(f"VGG has five stages: got {len(convs_per_stage)} conv counts and {len(widths)} widths")
        stages, channels = [], in_channels
        for num_convs, width in zip(convs_per_stage, widths):
            stages.append(vgg_stage(channels, width, num_convs, batch_norm))
            channels = width
        self.stage1, self.stage2, self.stage3, self.stage4, self.stage5 = stages
        self.num_features = channels
        self.head = VGGHead(channels, num_classes, hidden, dropout)
        self.apply(vgg_init)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # 224×224 input:
        x = self.stage1(x)     # (N, 64, 112, 112)
        x = self.stage2(x)     # (N, 128, 56, 56)
        x = self.stage3(x)     # (N, 256, 28, 28)
        x = self.stage4(x)     # (N, 512, 14, 14)
        return self.stage5(x)  # (N, 512, 7, 7)


# ------------------------------------------------------------------------------------ builders

@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg11(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-11 (configuration A: 8 convs + 3 FC; 133M parameters, 7.6 GMACs at 224×224)."""
    return VGG(CONFIGS[11], False, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg13(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-13 (configuration B: 10 convs + 3 FC; 133M parameters, 11.3 GMACs at 224×224)."""
    return VGG(CONFIGS[13], False, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg16(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-16 (configuration D: 13 convs + 3 FC; 138M parameters, 15.5 GMACs at 224×224)."""
    return VGG(CONFIGS[16], False, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg19(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-19 (configuration E: 16 convs + 3 FC; 144M parameters, 19.6 GMACs at 224×224)."""
    return VGG(CONFIGS[19], False, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg11_bn(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-11 with BatchNorm after every conv (torchvision's vgg11_bn)."""
    return VGG(CONFIGS[11], True, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg13_bn(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-13 with BatchNorm after every conv (torchvision's vgg13_bn)."""
    return VGG(CONFIGS[13], True, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg16_bn(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-16 with BatchNorm after every conv (torchvision's vgg16_bn)."""
    return VGG(CONFIGS[16], True, num_classes, in_channels, dropout)


@register_model(family="vgg", paper=PAPER, **IMAGENET)
def vgg19_bn(*, num_classes=10, in_channels=3, dropout=0.5):
    """VGG-19 with BatchNorm after every conv (torchvision's vgg19_bn)."""
    return VGG(CONFIGS[19], True, num_classes, in_channels, dropout)
