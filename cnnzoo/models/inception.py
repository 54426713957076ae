"""Inception modules: Szegedy et al., "Going Deeper with Convolutions" (GoogLeNet, CVPR 2015).

An inception module looks at the same input through several receptive fields at once and
concatenates what it finds along the channel axis:

    x ─┬─ 1×1 ───────────────────────────── ch1x1     ─┐   branch1
       ├─ 1×1 (reduce) ── 5×5 ───────────── ch5x5     ─┤   branch2
       ├─ 1×1 (reduce) ── 3×3 ── 3×3 ────── ch3x3     ─┤   branch3
       └─ 3×3 avg-pool (stride 1) ── 1×1 ── pool_proj ─┘   branch4
                                    concat: ch1x1 + ch5x5 + ch3x3 + pool_proj channels

The 1×1 "reduce" convs are what make it affordable: a 5×5 conv from 192 to 32 channels costs
5·5·192·32 = 153,600 weights; reducing to 32 channels first, the Inception post's example, costs
192·32 + 5·5·32·32 = 31,744, 4.8× fewer (to 16, the GoogLeNet lecture's: 15,872, 9.7× fewer),
and as many fewer multiplies per pixel. Two stacked 3×3 convs see a 5×5 window
with fewer weights than one 5×5 (Inception v2's factorisation). Every branch keeps H and W
(padding, stride 1) so the outputs can be concatenated.

branch3 is the tutorial's double 3×3 (seed 002), the same four branches as torchvision's
Inception-v3 `InceptionA`. GoogLeNet v1, the paper named here, has a single 3×3 in that branch
(its 3a: 1×1 64; 1×1 96 -> 3×3 128; 1×1 16 -> 5×5 32; pool -> 1×1 32). InceptionModule does not
build the single-3×3 branch, and googlenet_small uses the double one too.

Two nets use it:
* inception_mnist: the MNIST net of the Inception-module tutorial (PyTorch tutorial 11,
  "Advanced CNN"), layer for layer.
* googlenet_small: a small GoogLeNet-style net for 32×32 images with a GAP head, for CAM.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.models.common import Classifier, ClassifierHead, check_positive_int
from cnnzoo.registry import register_model

PAPER = "Szegedy et al. 2015, Going Deeper with Convolutions (arXiv:1409.4842)"
TUTORIAL = "the Inception-module tutorial (PyTorch tutorial 11, Advanced CNN), after " + PAPER


def conv_unit(in_channels: int, out_channels: int, kernel_size: int, bn_relu: bool) -> nn.Module:
    """A 'same'-padded conv; with bn_relu, conv-BN-ReLU (GoogLeNet-style), else a bare conv (the tutorial's)."""
    padding = kernel_size // 2
    if not bn_relu:
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False),
        bn=nn.BatchNorm2d(out_channels),
        relu=nn.ReLU(inplace=True),
    ))


class InceptionModule(nn.Module):
    """Four parallel branches concatenated: (N, C_in, H, W) -> (N, out_channels, H, W).

    The defaults are the tutorial's module: 16 + 24 + 24 + 24 = 88 output channels.
    bn_relu=False is the tutorial's module exactly (plain convs with bias, no activation
    inside; the net applies ReLU around it); bn_relu=True puts BN + ReLU after every conv.
    branch3 is always the tutorial's 1×1 -> 3×3 -> 3×3 (GoogLeNet v1: 1×1 -> one 3×3; see the
    module docstring).
    """

    def __init__(self, in_channels: int, ch1x1=16, ch5x5_reduce=16, ch5x5=24, ch3x3_reduce=16,
                 ch3x3=24, pool_proj=24, bn_relu: bool = False):
        super().__init__()
        # branch1 … branch4: the diagram's rows from top to bottom (torchvision's GoogLeNet names).
        self.branch1 = conv_unit(in_channels, ch1x1, 1, bn_relu)
        self.branch2 = nn.Sequential(
            conv_unit(in_channels, ch5x5_reduce, 1, bn_relu),
            conv_unit(ch5x5_reduce, ch5x5, 5, bn_relu),
        )
        self.branch3 = nn.Sequential(
            conv_unit(in_channels, ch3x3_reduce, 1, bn_relu),
            conv_unit(ch3x3_reduce, ch3x3, 3, bn_relu),
            conv_unit(ch3x3, ch3x3, 3, bn_relu),
        )
        self.branch4 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            conv_unit(in_channels, pool_proj, 1, bn_relu),
        )
        self.out_channels = ch1x1 + ch5x5 + ch3x3 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, dim=1)  # (N, ch1x1 + ch5x5 + ch3x3 + pool_proj, H, W)


class InceptionMNIST(Classifier):
    """The tutorial's MNIST net. It needs 28×28 inputs: its head flattens a 4×4 map.

    The tutorial ends with log-softmax and trains with the NLL loss; this returns the logits
    instead, and cross-entropy = log-softmax + NLL, so training is the same.
    """

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        self.conv1 = nn.Conv2d(in_channels, 10, 5)
        self.incept1 = InceptionModule(10)
        self.conv2 = nn.Conv2d(self.incept1.out_channels, 20, 5)
        self.incept2 = InceptionModule(20)
        self.max_pool = nn.MaxPool2d(2)
        self.num_features = self.incept2.out_channels
        self.fc = nn.Linear(self.num_features * 4 * 4, num_classes)  # 88·4·4 = 1408

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.max_pool(self.conv1(x)))  # (N, 10, 24, 24) -> (N, 10, 12, 12)
        x = self.incept1(x)                       # (N, 88, 12, 12)
        x = F.relu(self.max_pool(self.conv2(x)))  # (N, 20, 8, 8) -> (N, 20, 4, 4)
        return self.incept2(x)                    # (N, 88, 4, 4)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        if tuple(features.shape[1:]) != (self.num_features, 4, 4):
            raise ValueError(
                f"inception_mnist needs 28×28 inputs (1×28×28, like MNIST): its linear head "
                f"flattens the (N, 88, 4, 4) features of a 28×28 image into 1408 numbers, but got "
                f"features {tuple(features.shape)}. Resize the images to 28×28, or use "
                f"googlenet_small, which accepts any size."
            )
        return self.fc(features.flatten(1))       # (N, 1408) -> (N, num_classes)


@register_model(family="inception", input_size=(1, 28, 28), paper=TUTORIAL)
def inception_mnist(*, num_classes=10, in_channels=1):
    """The inception-module tutorial's MNIST net: two conv5×5 + inception stages, linear 1408 -> classes (28×28 only)."""
    return InceptionMNIST(num_classes, in_channels)


# Branch widths (ch1x1, ch5x5_reduce, ch5x5, ch3x3_reduce, ch3x3, pool_proj) of googlenet_small,
# a scaled-down GoogLeNet: a quarter to a fifth of its 3a/3b/4a/4b/5a widths, so CPU training is quick.
GOOGLENET_SMALL_PLAN = {
    "3a": (16, 8, 16, 16, 24, 8),      # -> 64 channels, 16×16
    "3b": (24, 12, 24, 24, 32, 16),    # -> 96, 16×16
    "4a": (32, 16, 32, 32, 48, 16),    # -> 128, 8×8
    "4b": (32, 16, 32, 32, 48, 16),    # -> 128, 8×8
    "5a": (48, 24, 48, 48, 64, 32),    # -> 192, 8×8
}


class GoogLeNetSmall(Classifier):
    """stem conv -> maxpool2 -> 3a, 3b -> maxpool3 -> 4a, 4b, 5a -> GAP + linear.

    Like GoogLeNet it shrinks the image early (its costly multi-branch modules then run on
    small maps) and ends with global average pooling and one linear layer, which is exactly
    the structure Class Activation Mapping needs. With 32×32 inputs the last map is 8×8.
    """

    def __init__(self, num_classes=10, in_channels=3, pool="avg", stem_width=32):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        plan = GOOGLENET_SMALL_PLAN
        # torchvision's GoogLeNet names. Its stem (conv1, maxpool1, conv2, conv3) is one 3×3 conv
        # here, as 32×32 images need no early shrinking; maxpool2 and maxpool3 keep their places.
        self.stem = conv_unit(in_channels, stem_width, 3, bn_relu=True)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception3a = InceptionModule(stem_width, *plan["3a"], bn_relu=True)
        self.inception3b = InceptionModule(self.inception3a.out_channels, *plan["3b"], bn_relu=True)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, padding=1)
        self.inception4a = InceptionModule(self.inception3b.out_channels, *plan["4a"], bn_relu=True)
        self.inception4b = InceptionModule(self.inception4a.out_channels, *plan["4b"], bn_relu=True)
        self.inception5a = InceptionModule(self.inception4b.out_channels, *plan["5a"], bn_relu=True)
        self.num_features = self.inception5a.out_channels
        self.head = ClassifierHead(self.num_features, num_classes, pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # 32×32 input:
        x = self.stem(x)              # (N, 32, 32, 32)
        x = self.maxpool2(x)          # (N, 32, 16, 16)
        x = self.inception3a(x)       # (N, 64, 16, 16)
        x = self.inception3b(x)       # (N, 96, 16, 16)
        x = self.maxpool3(x)          # (N, 96, 8, 8)
        x = self.inception4a(x)       # (N, 128, 8, 8)
        x = self.inception4b(x)       # (N, 128, 8, 8)
        return self.inception5a(x)    # (N, 192, 8, 8)


@register_model(family="inception", paper=PAPER)
def googlenet_small(*, num_classes=10, in_channels=3, pool="avg"):
    """Small GoogLeNet-style net (5 inception modules, GAP head) for 32×32 images; CAM-ready."""
    return GoogLeNetSmall(num_classes, in_channels, pool)
