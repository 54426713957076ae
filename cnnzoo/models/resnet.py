"""Residual networks: He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016).

A residual block learns F(x) and outputs relu(F(x) + shortcut(x)). Stacking plain layers made
deeper nets *worse* on training data (the degradation problem: plain-56 trains worse than
plain-20); adding the identity shortcut lets a block fall back to "do nothing" easily, and
depth helps again. `residual=False` builds the same network without the shortcut (the
paper's plain baselines), so the comparison is one knob, not two code paths.

Three layouts share one `ResNet` class:

* He et al. CIFAR nets (paper sec. 4.2): 3×3 stem of 16, three stages of n BasicBlocks with
  widths 16/32/64 and strides 1/2/2; depth = 6n + 2 (resnet20 … resnet110, plain20 …).
* kuangliu-style CIFAR nets: 3×3 stride-1 stem of 64, no max-pool, four stages of widths
  64/128/256/512, strides 1/2/2/2 (resnet18 … resnet152; a 32×32 input ends at 4×4).
* ImageNet nets: 7×7/2 stem + 3×3/2 max-pool, the same four stages (resnet18_imagenet …,
  and the paper's plain baselines plain18_imagenet, plain34_imagenet); module names equal
  torchvision's so its weights load (`fc.*` becomes `head.fc.*`).

Shortcuts (the paper's sec. 4.1, "Identity vs. Projection Shortcuts", Table 3):
  "A": identity everywhere; where a block changes the shape (stride 2 or more channels),
       subsample by the stride and zero-pad the new channels. No parameters (the paper's
       CIFAR choice, and its ImageNet plain-vs-residual comparison, Table 2);
  "B": a 1×1 convolution + BN projection where the shape changes, identity elsewhere (the
       paper's ImageNet choice, also kuangliu's and torchvision's);
  "C": a 1×1 convolution + BN projection on every shortcut, also where the shapes match.
All three beat the plain net by far, and B beats A, C beats B only by small margins: the
projections are not what solves the degradation problem. C's extra weights (ResNet-34: 21.6M
with A, 21.8M with B, 22.7M with C, counted in tests/test_models.py) are not worth their
memory and time, so the paper drops C and uses B where the shape changes from then on.

zero_init_residual (every residual builder): γ = 0 in the last batch norm of each residual
branch, so every block starts as the identity (Goyal et al. 2017). Each default is its source's:
False for the CIFAR nets (He et al. 2016 did not; nor does kuangliu's code), True for the
*_imagenet nets (the ResNet code of seed 001, torchvision's ResNet called with
zero_init_residual=True; torchvision's own default is False). Plain nets have no such knob: a
zero γ would silence a block that has no shortcut around it.

num_classes defaults to 10 in every builder, the *_imagenet ones too: the zoo's built-in
datasets (digits, shapes, MNIST, Fashion-MNIST, CIFAR-10) have 10 classes, so every net trains
on them as built. num_classes=1000 gives the paper's ImageNet nets and torchvision's counts:
ResNet-18 11.7M, -34 21.8M, -50 25.6M, -101 44.5M, -152 60.2M parameters (with 10 classes,
ResNet-50 has 23.5M); the Shapes and CAM tabs open the ImageNet nets that way.

Init: he_init (kaiming_normal, fan_out; BN γ = 1, β = 0) on every layout, the kuangliu one
too. kuangliu/pytorch-cifar's ResNet (the code of seed 000 d) sets no init of its own, so it
gets PyTorch's default (kaiming_uniform with a = √5); here one init serves the whole family,
so the three layouts differ only in their layout. The linear layer keeps PyTorch's default
in both.
"""
from __future__ import annotations

import os
import pickle

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.models.common import (
    IMAGENET, Classifier, ClassifierHead, blocks_per_stage, check_positive_int, he_init,
)
from cnnzoo.registry import register_model

SHORTCUTS = ("A", "B", "C")
PAPER = "He et al. 2016, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    # No bias: the BatchNorm that follows subtracts the mean and has its own shift (beta).
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: x[:, :, ::s, ::s] with zeros appended as the extra channels. No parameters.

    (N, C_in, H, W) -> (N, C_out, ceil(H/s), ceil(W/s)), the same size a 3×3 conv with
    padding 1 and stride s produces, so the two can be added.
    """

    def __init__(self, stride: int, extra_channels: int):
        super().__init__()
        self.stride = stride
        self.extra_channels = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad pads the last dims first: (W left, W right, H top, H bottom, C front, C back).
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


class BasicBlock(nn.Module):
    """Two 3×3 convs: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    The stride (if any) sits in conv1. `downsample` is the shortcut's module (torchvision's
    name, also for option C's projections where nothing is downsampled); None is the identity.
    """

    expansion = 1  # output channels = planes * expansion

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, residual: bool = True):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # (N, planes, H/s, W/s)
        out = self.bn2(self.conv2(out))           # (N, planes, H/s, W/s)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 reduce -> 3×3 -> 1×1 expand (×4), for the deep nets (50/101/152 layers).

    The 1×1 convs make the expensive 3×3 run on `planes` channels instead of 4·planes.
    The stride sits in the 3×3 conv, as in torchvision ("ResNet v1.5").
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, residual: bool = True):
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))    # (N, planes, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (N, planes, H/s, W/s)
        out = self.bn3(self.conv3(out))             # (N, 4·planes, H/s, W/s)
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ResNet(Classifier):
    """Stem -> stages layer1..layerK -> ClassifierHead (global pool + fc).

    block:   BasicBlock or Bottleneck.
    layers:  blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18, [n, n, n] for CIFAR 6n+2.
    widths:  `planes` per stage; a stage outputs widths[i] * block.expansion channels.
    stem:    "cifar": 3×3 stride-1 conv to stem_width (32×32 stays 32×32);
             "imagenet": 7×7 stride-2 conv + 3×3 stride-2 max-pool (224 -> 56).
    The first stage keeps the resolution; every later stage halves it (stride 2).
    """

    def __init__(self, block, layers, widths=(64, 128, 256, 512), stem="imagenet",
                 stem_width=64, num_classes=10, in_channels=3, pool="avg", shortcut="B",
                 residual=True, zero_init_residual=False):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(
                f"shortcut must be 'A' (zero-padded identity, no parameters), 'B' (1×1 conv "
                f"projection where the shape changes) or 'C' (projection on every shortcut), "
                f"got {shortcut!r}"
            )
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        if len(layers) != len(widths):
            raise ValueError(f"need one width per stage: {len(layers)} stages, {len(widths)} widths")
        check_positive_int("in_channels", in_channels)
        self.shortcut = shortcut
        self.residual = residual

        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, stem_width, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = conv3x3(in_channels, stem_width)
            self.maxpool = nn.Identity()  # CIFAR images are already small: keep 32×32
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)

        self.inplanes = stem_width  # channels entering the next stage (torchvision's name)
        for i, (num_blocks, planes) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            # layer1, layer2, ...: torchvision's names, so its state_dicts line up.
            self.add_module(f"layer{i + 1}", self._make_stage(block, planes, num_blocks, stride))
        self.num_stages = len(layers)
        self.num_features = self.inplanes
        self.head = ClassifierHead(self.num_features, num_classes, pool)

        self.apply(he_init)  # every layout, kuangliu's too (its code keeps PyTorch's default init)
        if zero_init_residual and residual:
            # Goyal et al. 2017: gamma = 0 in each branch's last BN makes every residual block
            # start as the identity, which eases the first steps of training very deep nets.
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_stage(self, block, planes: int, num_blocks: int, stride: int) -> nn.Sequential:
        out_channels = planes * block.expansion
        # Only the first block of a stage may change the shape; the rest keep it.
        blocks = [block(self.inplanes, planes, stride, self._shortcut(self.inplanes, out_channels, stride),
                        self.residual)]
        self.inplanes = out_channels
        blocks += [block(out_channels, planes, 1, self._shortcut(out_channels, out_channels, 1), self.residual)
                   for _ in range(num_blocks - 1)]
        return nn.Sequential(*blocks)

    def _shortcut(self, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
        """A block's shortcut: None (identity), option A's zero padding or a 1×1 conv + BN projection."""
        changes_shape = stride != 1 or in_channels != out_channels
        if not self.residual or (self.shortcut != "C" and not changes_shape):
            return None
        if self.shortcut == "A":
            return ZeroPadShortcut(stride, out_channels - in_channels)
        # (N, C_in, H, W) -> (N, C_out, H/s, W/s)
        return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        # ImageNet layout, 224×224 input:            CIFAR layouts, 32×32 input:
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 64, 112, 112)   (N, 16 or 64, 32, 32)
        x = self.maxpool(x)                      # (N, 64, 56, 56)     unchanged
        for i in range(1, self.num_stages + 1):  # each later stage halves H and W
            x = getattr(self, f"layer{i}")(x)
        return x  # (N, 512·expansion, 7, 7)  /  (N, 64, 8, 8) He  /  (N, 512·expansion, 4, 4) kuangliu


# --------------------------------------------------------------------------- He et al. CIFAR

def _cifar_resnet(depth, residual, shortcut, num_classes, in_channels, pool, zero_init_residual=False) -> ResNet:
    n = blocks_per_stage(depth, 6, 2, "CIFAR ResNet", "20, 32, 44, 56, 110, 1202")
    # 1 stem conv + 3 stages × n blocks × 2 convs + 1 fc = 6n + 2 weighted layers.
    return ResNet(BasicBlock, [n, n, n], widths=(16, 32, 64), stem="cifar", stem_width=16,
                  num_classes=num_classes, in_channels=in_channels, pool=pool,
                  shortcut=shortcut, residual=residual, zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet_cifar(*, num_classes=10, in_channels=3, depth=20, shortcut="A", pool="avg", zero_init_residual=False):
    """He et al. CIFAR ResNet of any depth 6n+2 (16/32/64 channels, 3 stages of n BasicBlocks)."""
    return _cifar_resnet(depth, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet20(*, num_classes=10, in_channels=3, shortcut="A", pool="avg", zero_init_residual=False):
    """ResNet-20 for CIFAR (n=3, 0.27M parameters); the paper's 8.75% CIFAR-10 error."""
    return _cifar_resnet(20, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet32(*, num_classes=10, in_channels=3, shortcut="A", pool="avg", zero_init_residual=False):
    """ResNet-32 for CIFAR (n=5, 0.46M parameters); the paper's 7.51% CIFAR-10 error."""
    return _cifar_resnet(32, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet44(*, num_classes=10, in_channels=3, shortcut="A", pool="avg", zero_init_residual=False):
    """ResNet-44 for CIFAR (n=7, 0.66M parameters); the paper's 7.17% CIFAR-10 error."""
    return _cifar_resnet(44, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet56(*, num_classes=10, in_channels=3, shortcut="A", pool="avg", zero_init_residual=False):
    """ResNet-56 for CIFAR (n=9, 0.85M parameters); the paper's 6.97% CIFAR-10 error."""
    return _cifar_resnet(56, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet110(*, num_classes=10, in_channels=3, shortcut="A", pool="avg", zero_init_residual=False):
    """ResNet-110 for CIFAR (n=18, 1.7M parameters); CIFAR-10 error 6.43% in the paper's best run,
    6.61 ± 0.16% over its 5 runs (Table 6)."""
    return _cifar_resnet(110, True, shortcut, num_classes, in_channels, pool, zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def plain_cifar(*, num_classes=10, in_channels=3, depth=20, pool="avg"):
    """Plain CIFAR net of depth 6n+2: a ResNet with the shortcuts removed (the degradation baseline)."""
    return _cifar_resnet(depth, False, "A", num_classes, in_channels, pool)


@register_model(family="resnet", paper=PAPER)
def plain20(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-20: ResNet-20 without shortcuts."""
    return _cifar_resnet(20, False, "A", num_classes, in_channels, pool)


@register_model(family="resnet", paper=PAPER)
def plain32(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-32: ResNet-32 without shortcuts."""
    return _cifar_resnet(32, False, "A", num_classes, in_channels, pool)


@register_model(family="resnet", paper=PAPER)
def plain44(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-44: ResNet-44 without shortcuts."""
    return _cifar_resnet(44, False, "A", num_classes, in_channels, pool)


@register_model(family="resnet", paper=PAPER)
def plain56(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-56: ResNet-56 without shortcuts; trains worse than plain-20 (the degradation problem)."""
    return _cifar_resnet(56, False, "A", num_classes, in_channels, pool)


@register_model(family="resnet", paper=PAPER)
def plain110(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-110: ResNet-110 without shortcuts."""
    return _cifar_resnet(110, False, "A", num_classes, in_channels, pool)


# ------------------------------------------------------ ImageNet stages (CIFAR and ImageNet stem)

# depth -> (block, blocks per stage), He et al. Table 1.
IMAGENET_LAYOUTS = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


def _four_stage_resnet(depth, stem, num_classes, in_channels, pool, shortcut="B", residual=True,
                       zero_init_residual=False):
    block, layers = IMAGENET_LAYOUTS[depth]
    return ResNet(block, layers, widths=(64, 128, 256, 512), stem=stem, stem_width=64,
                  num_classes=num_classes, in_channels=in_channels, pool=pool, shortcut=shortcut,
                  residual=residual, zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet18(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=False):
    """ResNet-18 for 32×32 images (kuangliu layout: 3×3 stem, no max-pool, 11.2M parameters)."""
    return _four_stage_resnet(18, "cifar", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet34(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=False):
    """ResNet-34 for 32×32 images (kuangliu layout, BasicBlocks [3, 4, 6, 3])."""
    return _four_stage_resnet(34, "cifar", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet50(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=False):
    """ResNet-50 for 32×32 images (kuangliu layout, Bottlenecks [3, 4, 6, 3])."""
    return _four_stage_resnet(50, "cifar", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet101(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=False):
    """ResNet-101 for 32×32 images (kuangliu layout, Bottlenecks [3, 4, 23, 3])."""
    return _four_stage_resnet(101, "cifar", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER)
def resnet152(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=False):
    """ResNet-152 for 32×32 images (kuangliu layout, Bottlenecks [3, 8, 36, 3])."""
    return _four_stage_resnet(152, "cifar", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def resnet18_imagenet(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=True):
    """ResNet-18 for ImageNet (7×7/2 stem + max-pool); torchvision-compatible weights."""
    return _four_stage_resnet(18, "imagenet", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def resnet34_imagenet(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=True):
    """ResNet-34 for ImageNet (7×7/2 stem + max-pool); torchvision-compatible weights."""
    return _four_stage_resnet(34, "imagenet", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def resnet50_imagenet(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=True):
    """ResNet-50 for ImageNet (7×7/2 stem + max-pool); torchvision-compatible weights."""
    return _four_stage_resnet(50, "imagenet", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def resnet101_imagenet(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=True):
    """ResNet-101 for ImageNet (7×7/2 stem + max-pool); torchvision-compatible weights."""
    return _four_stage_resnet(101, "imagenet", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def resnet152_imagenet(*, num_classes=10, in_channels=3, shortcut="B", pool="avg", zero_init_residual=True):
    """ResNet-152 for ImageNet (7×7/2 stem + max-pool); torchvision-compatible weights."""
    return _four_stage_resnet(152, "imagenet", num_classes, in_channels, pool, shortcut,
                              zero_init_residual=zero_init_residual)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def plain18_imagenet(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-18 for ImageNet: ResNet-18's layout without shortcuts (the paper's Table 2 baseline)."""
    return _four_stage_resnet(18, "imagenet", num_classes, in_channels, pool, residual=False)


@register_model(family="resnet", paper=PAPER, **IMAGENET)
def plain34_imagenet(*, num_classes=10, in_channels=3, pool="avg"):
    """Plain-34 for ImageNet: ResNet-34 without shortcuts; trains worse than plain-18 (Table 2, Fig. 4)."""
    return _four_stage_resnet(34, "imagenet", num_classes, in_channels, pool, residual=False)


# ------------------------------------------------------------ torchvision's ImageNet weights

def _torchvision_weights(depth: int):
    """torchvision's IMAGENET1K_V1 weights enum entry for ResNet-`depth` (the paper-era recipe)."""
    if depth not in IMAGENET_LAYOUTS:
        raise ValueError(f"ImageNet ResNet depth must be one of {sorted(IMAGENET_LAYOUTS)}, got {depth!r}")
    import torchvision.models as tvm  # lazily: only this corner of the core needs torchvision

    return getattr(tvm, f"ResNet{depth}_Weights").IMAGENET1K_V1


def from_torchvision_state_dict(state_dict: dict) -> dict:
    """Rename a torchvision ResNet state_dict for our ResNet: `fc.*` -> `head.fc.*`.

    Every other name is already identical (conv1, bn1, layer1.0.downsample.0, ...).
    """
    return {("head." + k if k.startswith("fc.") else k): v for k, v in state_dict.items()}


def imagenet_weights_path(depth: int) -> str:
    """Where torchvision keeps (and we look for) the ImageNet file: <torch hub dir>/checkpoints/<name>.

    The hub dir is $TORCH_HOME/hub (default ~/.cache/torch/hub); the file name is the last part
    of torchvision's download URL, e.g. resnet18-f37072fd.pth.
    """
    url = _torchvision_weights(depth).url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def load_imagenet_weights(model: ResNet, depth: int, download: bool = True) -> ResNet:
    """Load torchvision's ImageNet weights (IMAGENET1K_V1) into `model` = resnet{depth}_imagenet.

    Looks for the file in the torch hub cache first (see imagenet_weights_path); if it is
    missing and `download` is True, asks torchvision to fetch it. With num_classes != 1000 the
    backbone is loaded and the classifier head keeps its fresh initialisation (fine-tuning).
    Offline and without the file: ValueError saying where to put it. Returns the model.
    """
    weights = _torchvision_weights(depth)
    if not isinstance(model, ResNet):
        raise ValueError(f"expected a ResNet from create_model('resnet{depth}_imagenet'), got {type(model).__name__}")
    path = imagenet_weights_path(depth)
    if os.path.exists(path):
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError) as err:  # truncated or not a state_dict
            raise ValueError(
                f"{path} is not a readable torchvision checkpoint ({err}); delete it and "
                f"download {weights.url} again"
            ) from err
    elif download:
        try:
            state_dict = torch.hub.load_state_dict_from_url(
                weights.url, map_location="cpu", progress=True, check_hash=True, weights_only=True
            )
        except OSError as err:  # URLError, HTTPError, timeouts and DNS failures are all OSErrors
            raise ValueError(_missing_weights_message(depth, path, f"download failed: {err}")) from err
    else:
        raise ValueError(_missing_weights_message(depth, path, "download=False"))

    state_dict = from_torchvision_state_dict(state_dict)
    if model.head.fc.out_features != state_dict["head.fc.weight"].shape[0]:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("head.fc.")}
        strict_keys = set(model.state_dict()) - {"head.fc.weight", "head.fc.bias"}
    else:
        strict_keys = set(model.state_dict())
    if set(state_dict) != strict_keys:
        raise ValueError(
            f"the model does not match torchvision's resnet{depth}: build it with "
            f"create_model('resnet{depth}_imagenet', in_channels=3, shortcut='B')"
        )
    try:
        model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # a shape mismatch, e.g. in_channels != 3
        raise ValueError(
            f"torchvision's resnet{depth} weights do not fit this model ({err}); build it with "
            f"create_model('resnet{depth}_imagenet', in_channels=3)"
        ) from err
    return model


def _missing_weights_message(depth: int, path: str, why: str) -> str:
    url = _torchvision_weights(depth).url
    return (
        f"ImageNet weights for resnet{depth} are not on this machine ({why}). "
        f"Download {url} and put it at {path} (or point TORCH_HOME at a folder whose "
        f"hub/checkpoints/ holds it). Offline alternatives: the small models shipped in "
        f"checkpoints/ (trained by this project on the built-in datasets), or train one "
        f"yourself with `python -m train.classifier`."
    )


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in torchvision's order (offline data inside torchvision)."""
    return list(_torchvision_weights(18).meta["categories"])


def imagenet_normalisation() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel that torchvision's ImageNet weights expect, read from their
    preprocessing transform: ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)).

    The models registered with normalisation="imagenet" take inputs normalised with these.
    """
    transform = _torchvision_weights(18).transforms()  # ImageClassification: resize, crop, normalise
    return tuple(transform.mean), tuple(transform.std)
