"""Look inside a trained network: what each layer computes for one picture, its filters, the path
of the picture through the stages, and the test images that excite one channel most.

    x = normalize(image[None], mean, std)                 # uint8 (1, C, H, W) -> float
    maps = feature_maps(model, x, "layer1.0.conv1")       # FeatureMaps: (C, h, w), sorted channels
    maps.values[maps.order[0]]                            # the most active channel's (h, w) map
    stages = stage_names(model)                           # ["conv1", "layer1", "layer2", "layer3"]
    outputs = layer_outputs(model, x, stages)             # {name: (1, C, h, w)}
    best = channel_maxima(model, images, "layer3", mean, std)   # (N, C) over a whole test set
    best.top(channel=5, k=9)                                     # test indices, best first

A layer's output is caught with a forward hook that lives only inside `capture` (the habit of
torch-cam: borrowed, always removed, also after an error). Models are shared by every page
of the web app, so a hook only records the forward pass of the thread that placed it: a
student's request never sees another student's picture. The hook copies what it catches,
because the next layer may change it in place (an in-place ReLU after a batch norm).
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import torch
import torch.nn as nn

from cnnzoo.compute import MEMORY_FORMAT, autocast_for, eval_mode, normalize

__all__ = [
    "capture", "layer_outputs", "layer_names", "stage_names", "FeatureMaps", "feature_maps", "rank_channels",
    "conv_filters", "ChannelMaxima", "channel_maxima",
]  # fmt: skip


def layer_names(model: nn.Module) -> list[str]:
    """Every named module, in definition order: what `capture` can hook ('' is the whole model)."""
    return [name for name, _ in model.named_modules() if name]


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if not name or name not in modules:
        near = [n for n in modules if n and name and (n.startswith(name) or name.startswith(n))][:5]
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ValueError(f"this {type(model).__name__} has no layer named {name!r}{hint}: choose one of the "
                         f"layer names of its trace table, e.g. {', '.join(layer_names(model)[:3])}.")
    return modules[name]


@contextlib.contextmanager
def capture(model: nn.Module, names, reduce=None):
    """Inside the block, every forward pass of this thread stores the output of each named layer
    in the dict it yields (a detached copy, or `reduce(output)` when given); the hooks are
    removed on leaving, also after an error. An unknown name raises ValueError first."""
    modules = {name: _module(model, name) for name in names}
    outputs: dict[str, torch.Tensor] = {}
    thread = threading.get_ident()

    def hook_for(name):
        def hook(module, args, output):
            if threading.get_ident() == thread and isinstance(output, torch.Tensor):
                outputs[name] = reduce(output) if reduce is not None else output.detach().clone()
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in modules.items()]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def layer_outputs(model: nn.Module, x: torch.Tensor, names) -> dict[str, torch.Tensor]:
    """The outputs of the named layers (and "logits") for the normalised batch x, in eval mode."""
    with eval_mode(model), capture(model, names) as outputs:
        logits = model(x)
    missing = [name for name in names if name not in outputs]
    if missing:
        raise ValueError(f"the layer(s) {', '.join(missing)} did not run on this input (a module defined "
                         f"but not used in forward): choose a layer from the trace table.")
    return {**outputs, "logits": logits.detach()}


def stage_names(model: nn.Module) -> list[str]:
    """The network's stages, for the picture's path: its top-level parts that hold a convolution
    (the stem conv, ResNet's layer1-4, dense blocks and transitions, Inception modules)."""
    names = []
    for name, child in model.named_children():
        if name in ("head", "fc", "classifier"):
            continue
        if any(isinstance(m, nn.Conv2d) for m in child.modules()):
            names.append(name)
    return names


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's output for one picture.

    values   (C, h, w) float, or (1, F) reshaped to (F, 1, 1) for a layer that outputs a vector
    order    channel indices sorted by mean activation, highest first (C,)
    means, minima, maxima   per channel (C,), in the channel's own index order
    """

    layer: str
    layer_type: str
    values: torch.Tensor
    order: torch.Tensor
    means: torch.Tensor
    minima: torch.Tensor
    maxima: torch.Tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.values.shape)


def feature_maps(model: nn.Module, x: torch.Tensor, layer: str) -> FeatureMaps:
    """The output of `layer` for the normalised picture x (1, C, H, W), its channels ranked."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"feature_maps takes one picture as a batch (1, C, H, W), got {tuple(x.shape)}")
    return rank_channels(model, layer, layer_outputs(model, x, [layer])[layer])


def rank_channels(model: nn.Module, layer: str, output: torch.Tensor) -> FeatureMaps:
    """FeatureMaps of one picture's output (1, C, h, w) or (1, F) of `layer`, caught by capture."""
    out = output[0].float().cpu()
    if out.dim() == 1:  # (F,) from a linear layer or a flatten: F channels of one value each
        out = out[:, None, None]
    if out.dim() != 3:
        raise ValueError(f"layer {layer!r} outputs a tensor of shape {tuple(output.shape)}, which is not a stack of "
                         f"feature maps: choose a convolution, pooling, batch-norm or activation layer.")
    flat = out.flatten(1)  # (C, h·w)
    means = flat.mean(1)
    return FeatureMaps(layer, type(_module(model, layer)).__name__, out, means.argsort(descending=True, stable=True),
                       means, flat.amin(1), flat.amax(1))


def conv_filters(model: nn.Module, layer: str) -> torch.Tensor:
    """The weights of a convolution, (C_out, C_in / groups, k_h, k_w), as float on the CPU."""
    module = _module(model, layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(module).__name__}, which has no filters: choose a Conv2d.")
    return module.weight.detach().float().cpu()


@dataclass(frozen=True)
class ChannelMaxima:
    """Each image's strongest response in each channel of one layer, over a whole image set.

    maxima     (N, C) the largest value of channel c's map for image n
    positions  (N, C) where it is, as a flat index y·w + x into the (h, w) map
    map_size   (h, w)
    """

    layer: str
    maxima: torch.Tensor
    positions: torch.Tensor
    map_size: tuple[int, int]

    @property
    def channels(self) -> int:
        return self.maxima.shape[1]

    @property
    def nbytes(self) -> int:
        return self.maxima.numel() * self.maxima.element_size() + self.positions.numel() * self.positions.element_size()

    def top(self, channel: int, k: int = 9) -> list[tuple[int, float, tuple[int, int]]]:
        """The k images whose channel `channel` fires most: (image index, value, (y, x) on the map)."""
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < self.channels:
            raise ValueError(f"channel must be a whole number from 0 to {self.channels - 1} (layer {self.layer!r} "
                             f"has {self.channels} channels), got {channel!r}")
        values, indices = self.maxima[:, channel].topk(min(k, len(self.maxima)))
        w = self.map_size[1]
        return [(int(i), float(v), divmod(int(self.positions[i, channel]), w)) for v, i in zip(values, indices)]


def _strongest(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    if output.dim() == 2:  # (B, F): a vector per image, each value its own 1×1 "map"
        output = output[:, :, None, None]
    if output.dim() != 4:
        raise ValueError(f"this layer outputs shape {tuple(output.shape)}, not feature maps: choose another layer.")
    flat = output.detach().float().flatten(2)  # (B, C, h·w)
    maxima, positions = flat.max(2)
    return maxima.cpu(), positions.to(torch.int32).cpu(), tuple(output.shape[2:])


@torch.no_grad()
def channel_maxima(model: nn.Module, images: torch.Tensor, layer: str, mean, std, *,
                   batch_size: int = 256) -> ChannelMaxima:
    """One batched pass over uint8 images (N, C, H, W): every image's maximum in every channel.

    Only the (B, C) maxima of each batch are kept (the hook reduces the maps as they are made),
    so a 2,000-image test set costs 2,000 × C numbers, not 2,000 feature maps.
    """
    if images.dim() != 4 or images.dtype != torch.uint8 or not len(images):
        raise ValueError(f"channel_maxima takes uint8 images (N, C, H, W) with N ≥ 1, got "
                         f"{images.dtype} {tuple(images.shape)}")
    param = next(model.parameters())
    parts = []
    with eval_mode(model), capture(model, [layer], reduce=_strongest) as caught:
        for batch in images.split(batch_size):
            x = normalize(batch.to(param.device), mean, std).contiguous(memory_format=MEMORY_FORMAT)
            with autocast_for(param.device):
                model(x)
            if layer not in caught:
                raise ValueError(f"layer {layer!r} did not run on this input: choose a layer from the trace table.")
            parts.append(caught.pop(layer))
    maxima, positions = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    return ChannelMaxima(layer, maxima, positions, parts[0][2])
