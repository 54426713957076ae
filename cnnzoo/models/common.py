"""What every classifier in the zoo shares: the features/head seam, He-init, depth arithmetic.

    logits = model.forward_head(model.forward_features(x))
             features: (N, num_features, h, w)  ->  logits: (N, num_classes)

CAM and the shape tracer use this seam instead of per-model code.
"""
from __future__ import annotations

import torch
import torch.nn as nn

POOLS = ("avg", "max")
# register_model(..., **IMAGENET) marks the nets laid out for ImageNet: 224×224 inputs, normalised
# as torchvision's ImageNet weights expect (the Shapes tab opens them at that size).
IMAGENET = dict(input_size=(3, 224, 224), normalisation="imagenet")


class ClassifierHead(nn.Module):
    """Global pooling + linear, the head of the CAM paper (Zhou et al. 2016).

    pool="avg" is global average pooling (GAP); pool="max" is global max pooling (GMP),
    the variant the paper compares against. `fc` holds w_k^c, the weights CAM reads.
    fc keeps its bias b_c, which the paper sets to 0 (one head for every net; torchvision's
    fc.bias loads into it): a per-class constant on the score, nothing on the map (cnnzoo.cam).
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
    """Base class: subclasses define forward_features, set self.num_features (the channels it
    returns) and self.head (or override forward_head)."""

    head: nn.Module
    num_features: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def he_init(module: nn.Module) -> None:
    """He et al. 2015 ("Delving Deep into Rectifiers", arXiv:1502.01852), as torchvision's ResNet
    and DenseNet: conv weights ~ N(0, 2 / fan_out), fan_out = k·k·C_out; BatchNorm = identity.

    Use as model.apply(he_init). The 2 makes up for ReLU zeroing half the signal; fan_out (the
    paper's backward-pass case) keeps the gradients' variance steady from layer to layer.
    """
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def blocks_per_stage(depth, step: int, offset: int, family: str, examples: str) -> int:
    """n from depth = step·n + offset, or a ValueError listing the valid depths.

    The CIFAR families count their weighted layers this way, n being the blocks per stage
    (the dense layers per block for DenseNet) and step the layers that one more n adds:
        CIFAR ResNet             6n + 2   (3 stages × 2 convs; stem conv + fc)
        Wide ResNet              6n + 4   (+ the 3 projections, counted by the paper)
        DenseNet-B (bottleneck)  6n + 4   (3 blocks × 2 convs; stem, 2 transitions, fc)
        DenseNet                 3n + 4
    examples: the depths the paper uses, shown in the error.
    """
    valid = isinstance(depth, int) and not isinstance(depth, bool)
    if not valid or depth < step + offset or (depth - offset) % step:
        smallest = ", ".join(str(step * n + offset) for n in range(1, 6))
        raise ValueError(
            f"{family} depth must be {step}n + {offset} (n >= 1): {smallest}, …, "
            f"e.g. the paper's {examples}; got {depth!r}"
        )
    return (depth - offset) // step


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """ValueError with the fix when a knob is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
