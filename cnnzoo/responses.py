"""Why residual learning works, measured inside the layers (He et al. 2016, sec. 4.2, Figure 7).

    points = response_points(model, (3, 32, 32))     # ["bn1", "layer1.0.bn1", "layer1.0.bn2", …]
    stds = layer_responses(model, images, mean, std)  # {point: standard deviation}, in layer order
    norms = gradient_norms(model, images, labels, mean, std)   # {3×3 conv: ‖∂L/∂W‖}

**Responses.** The paper measures "the outputs of each 3×3 layer, after BN and before other
nonlinearity (ReLU/addition)" on the test set: in a residual block, bn1 (before its ReLU) and
bn2 (before the shortcut is added). If the best function of a block is close to the identity,
the residual branch only has to learn a small correction F(x) = H(x) − x, so its responses are
small: ResNets have *smaller* response standard deviations than their plain counterparts, and
the deeper the ResNet, the smaller (its Figure 7, CIFAR-10). Here a layer's response std is the
standard deviation of all its output values (every test image, channel and position), which is
the paper's "std of layer responses".

**Gradients.** The paper also argues that the plain nets' trouble is not vanishing gradients:
with BN "the backward propagated gradients exhibit healthy norms". gradient_norms gives
‖∂L/∂W‖ for each 3×3 convolution on one batch, in training mode (as training sees them; the
model's batch-norm statistics are not changed: the pass runs on a copy).

Hook points are found from cnnzoo.trace's execution order (a batch norm directly after a 3×3
convolution), so they follow the network's own forward, and they are borrowed hooks removed
afterwards (cnnzoo.inside.capture).
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.compute import eval_mode, normalize
from cnnzoo.inside import capture
from cnnzoo.trace import trace

__all__ = ["response_points", "layer_responses", "gradient_norms"]


def _is_3x3(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (3, 3)


def response_points(model: nn.Module, input_size) -> list[tuple[str, str]]:
    """(3×3 conv, the batch norm right after it) for every 3×3 layer, in the order they run.

    The shortcut projections (1×1) and a 7×7 stem are not 3×3 layers and are left out, as in
    the paper; a net whose 3×3 convs have no batch norm after them has no response points.
    """
    param = next(model.parameters())
    rows = trace(model, input_size, device=str(param.device)).rows
    modules = dict(model.named_modules())
    points = []
    for before, row in zip(rows, rows[1:]):
        if row.layer_type == "BatchNorm2d" and _is_3x3(modules.get(before.name)):
            points.append((before.name, row.name))
    return points


def _moments(output: torch.Tensor) -> torch.Tensor:
    x = output.detach().double()
    return torch.stack([x.sum(), (x * x).sum(), torch.tensor(float(x.numel()), dtype=torch.float64)]).cpu()


@torch.no_grad()
def layer_responses(model: nn.Module, images: torch.Tensor, mean, std, *, batch_size: int = 256) -> dict[str, float]:
    """{batch norm after a 3×3 conv: std of its outputs} over uint8 images (N, C, H, W), eval mode.

    Sums and sums of squares accumulate batch by batch in float64, so the std is that of the
    whole set, not an average of per-batch stds.
    """
    if images.dim() != 4 or images.dtype != torch.uint8 or not len(images):
        raise ValueError(f"layer_responses takes uint8 images (N, C, H, W) with N ≥ 1, got "
                         f"{images.dtype} {tuple(images.shape)}")
    points = [bn for _, bn in response_points(model, tuple(images.shape[1:]))]
    if not points:
        raise ValueError(f"{type(model).__name__} has no 3×3 convolution followed by batch norm: the response "
                         f"argument is about ResNets and their plain counterparts (resnet20, plain20, …).")
    param = next(model.parameters())
    totals = {name: torch.zeros(3, dtype=torch.float64) for name in points}
    with eval_mode(model), capture(model, points, reduce=_moments) as caught:
        for batch in images.split(batch_size):
            model(normalize(batch.to(param.device), mean, std))
            for name in points:
                totals[name] += caught.pop(name)
    stds = {}
    for name, (total, squares, count) in totals.items():
        variance = max(float(squares / count - (total / count) ** 2), 0.0)
        stds[name] = variance ** 0.5
    return stds


def gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean, std) -> dict[str, float]:
    """{3×3 conv: ‖∂L/∂W‖₂} for the cross-entropy of one batch of uint8 images, in training mode.

    The pass runs on a deep copy, so the model's weights, gradients and batch-norm running
    statistics stay exactly as they were.
    """
    if len(images) != len(labels) or len(images) < 2:
        raise ValueError(f"gradient_norms needs a batch of at least 2 images with one label each (batch norm in "
                         f"training mode), got {len(images)} images and {len(labels)} labels")
    param = next(model.parameters())
    clone = copy.deepcopy(model).train()
    clone.zero_grad(set_to_none=True)
    x = normalize(images.to(param.device), mean, std)
    F.cross_entropy(clone(x), labels.to(param.device)).backward()
    convs = [conv for conv, _ in response_points(model, tuple(images.shape[1:]))]
    modules = dict(clone.named_modules())
    return {name: float(modules[name].weight.grad.norm()) for name in convs}
