"""Computing class activation maps: channel weights, one weighted sum, upsampling, min-max scale.

CAM and Grad-CAM differ only in the weight of each feature channel k for class c:

    CAM        w_k^c                        the head's linear layer (head.fc.weight)
    Grad-CAM   α_k^c = mean_{x,y} ∂S_c/∂f_k  the gradient of the score, averaged over the map

and share one combination, Σ_k weight_k^c f_k(x, y) (ReLU for Grad-CAM), as torch-cam's methods
share `nansum(weight * activation)`. See the cnnzoo.cam docstring for the derivation.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.compute import eval_mode
from cnnzoo.models.common import Classifier, ClassifierHead

METHODS = ("auto", "CAM", "Grad-CAM")


@dataclass
class CAMResult:
    """Maps for k classes of each image, from one forward pass.

    maps     (N, k, h, w) raw maps at the feature map's resolution: M_c for CAM (any sign),
             ReLU(Σ α f) for Grad-CAM. Not normalised: see normalize_cam for display and
             upsample_cam for the image's size.
    classes  (N, k) class indices, most probable first for top-k
    probs    (N, k) softmax probabilities of those classes
    logits   (N, num_classes) the model's scores S_c
    method   "CAM" or "Grad-CAM": say which in the UI
    pooling  "avg" or "max" (the head's read-out) for CAM; None for Grad-CAM
    input_size (H, W) of the images, the size to upsample maps to
    """

    maps: torch.Tensor
    classes: torch.Tensor
    probs: torch.Tensor
    logits: torch.Tensor
    method: str
    pooling: str | None
    input_size: tuple[int, int]

    @property
    def label(self) -> str:
        """A caption for pictures: "CAM (global average pooling)", "Grad-CAM", ..."""
        if self.method == "Grad-CAM":
            return "Grad-CAM"
        return f"CAM (global {'average' if self.pooling == 'avg' else 'max'} pooling)"


def cam_method(model: nn.Module) -> str:
    """"CAM" when the head is ClassifierHead (global avg/max pooling + `fc`), else "Grad-CAM"."""
    head = getattr(model, "head", None)
    own_head = type(model).forward_head is Classifier.forward_head  # not replaced by a subclass
    return "CAM" if isinstance(head, ClassifierHead) and own_head else "Grad-CAM"


def compute_cam(model: nn.Module, x: torch.Tensor, class_idx=None, *, top_k: int = 1,
                method: str = "auto") -> CAMResult:
    """Class activation maps of `x` for chosen classes or the top-k predicted ones.

    x          normalised float images, (N, C, H, W) or one (C, H, W); moved to the model's device
    class_idx  None (the top_k most probable classes), an int (that class for every image),
               an (N,) tensor/list (one class per image) or an (N, k) one (k classes each)
    method     "auto" (CAM where the head allows it, else Grad-CAM), "CAM" or "Grad-CAM"

    maps = Σ_k weight_k^c f_k(x, y), with weight = w (CAM) or α (Grad-CAM, then a ReLU).
    One forward pass, in eval mode (BatchNorm uses its running statistics); the model's
    train/eval mode is restored afterwards, also after an error. Gradients of the weights are
    never touched: Grad-CAM differentiates with respect to the feature map only.
    """
    method = _resolve_method(model, method)
    x = _as_batch(model, x)
    with eval_mode(model):
        with torch.no_grad():
            features = model.forward_features(x)  # (N, C, h, w)
        logits, classes, weights = _channel_weights(model, features, class_idx, top_k, method)
        with torch.no_grad():
            maps = torch.einsum("nkc,nchw->nkhw", weights, features)  # (N, k, h, w)
            if method == "Grad-CAM":
                maps = maps.relu()  # Selvaraju et al.: only evidence *for* the class
    logits = logits.float()
    probs = logits.softmax(1).gather(1, classes)
    pooling = model.head.pool if method == "CAM" else None
    return CAMResult(maps.float(), classes, probs, logits, method, pooling, tuple(x.shape[2:]))


def _channel_weights(model: nn.Module, features: torch.Tensor, class_idx, top_k: int,
                     method: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits (N, K), classes (N, k), weights (N, k, C)): each chosen class's channel weights.

    CAM: w_k^c, the rows of head.fc.weight. Grad-CAM: α_k^c = mean_{x,y} ∂S_c/∂f_k(x, y).
    `features` is forward_features' output (N, C, h, w); the model should be in eval mode.
    """
    if method == "CAM":
        with torch.no_grad():
            logits = model.forward_head(features)  # (N, K)
            classes = _pick_classes(logits, class_idx, top_k)  # (N, k)
            # Only w_k^c enters the map. The head's bias b_c (the paper sets it to 0) shifts S_c by a
            # per-class constant and adds nothing to M_c(x, y) = Σ_k w_k^c f_k(x, y).
            return logits, classes, model.head.fc.weight[classes]  # (N, k, C): w_k^c
    # Only the head is differentiated: a leaf copy of the features, so no backbone graph is
    # built and no parameter's .grad changes.
    with torch.enable_grad():
        leaf = features.detach().requires_grad_(True)
        logits = model.forward_head(leaf)  # (N, K)
        classes = _pick_classes(logits.detach(), class_idx, top_k)
        scores = logits.gather(1, classes)  # (N, k) S_c of each chosen class
        alphas = []
        for j in range(classes.shape[1]):
            # Images are independent in eval mode, so the gradient of the sum is each image's own.
            (grads,) = torch.autograd.grad(scores[:, j].sum(), leaf, retain_graph=j + 1 < classes.shape[1])
            alphas.append(grads.mean(dim=(2, 3)))  # (N, C): α_k^c
    return logits.detach(), classes, torch.stack(alphas, 1)  # (N, k, C)


def class_activation_map(model: nn.Module, x: torch.Tensor, class_idx=None) -> torch.Tensor:
    """Raw maps (N, h, w) for one class per image: M_c(x, y) = Σ_k w_k^c f_k(x, y).

    class_idx: an int, an (N,) tensor, or None for each image's predicted class. Grad-CAM
    for models without a pooling + linear head (see compute_cam for the method and the label).
    """
    maps = compute_cam(model, x, class_idx).maps
    return maps[:, 0] if maps.shape[1] == 1 else maps


def cam_topk(model: nn.Module, x: torch.Tensor, k: int = 3) -> CAMResult:
    """The k most probable classes of each image with their maps, in one forward pass.

    result.probs (N, k), result.classes (N, k), result.maps (N, k, h, w): the paper's Figure 4.
    """
    return compute_cam(model, x, top_k=k)


def upsample_cam(maps: torch.Tensor, size) -> torch.Tensor:
    """Bilinear upsampling of (..., h, w) maps to (..., H, W); size is an int or (H, W).

    align_corners=False: each map cell covers an equal block of the image, as the strided
    convolutions and poolings that made it do.
    """
    size = (size, size) if isinstance(size, numbers.Integral) else tuple(int(s) for s in size)
    lead, (h, w) = maps.shape[:-2], maps.shape[-2:]
    flat = maps.reshape(-1, 1, h, w).float()
    return F.interpolate(flat, size=size, mode="bilinear", align_corners=False).reshape(*lead, *size)


def normalize_cam(maps: torch.Tensor) -> torch.Tensor:
    """Min-max per map to [0, 1] for display: (M − min M) / (max M − min M); flat maps give 0.

    Why min-max: CAM values have no fixed scale (they depend on the class's weights and on the
    image), and a map may be negative everywhere, so each map is shown on its own range, from
    its weakest location (0) to its strongest (1). The price: a class with 1% probability
    looks as vivid as the top class; show the probability beside every map. The box threshold
    uses the same scale (see threshold_masks).
    """
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    span = hi - lo
    return torch.where(span > 0, (maps - lo) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))


# ----------------------------------------------------------------------------------------
# Input checks: errors that say how to call compute_cam instead
# ----------------------------------------------------------------------------------------


def _resolve_method(model: nn.Module, method: str) -> str:
    """"CAM" or "Grad-CAM" for this model and the asked method, or a ValueError saying why not."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not (hasattr(model, "forward_features") and hasattr(model, "forward_head")):
        raise ValueError("CAM needs a classifier with forward_features(x) and forward_head(features); "
                         "every cnnzoo classifier has them (create_model or load_checkpoint).")
    natural = cam_method(model)
    if method == "CAM" and natural != "CAM":
        raise ValueError(f"{type(model).__name__} has no global-pooling + linear head, so CAM is not defined "
                         f"for it; use method='Grad-CAM' (or 'auto').")
    return natural if method == "auto" else method


def _first_conv_channels(model: nn.Module) -> int | None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def _as_batch(model: nn.Module, x) -> torch.Tensor:
    """Check x and return it as a float (N, C, H, W) batch on the model's device."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch tensor of normalised images, got {type(x).__name__}")
    channels = _first_conv_channels(model)
    expected = f"C×H×W with C = {channels}" if channels else "C×H×W"
    if x.dim() not in (3, 4):
        raise ValueError(f"expected one image of {expected} or a batch N×{expected}, got shape {tuple(x.shape)}")
    if x.dim() == 3:
        x = x[None]
    if channels is not None and x.shape[1] != channels:
        hint = " (an H×W×C array? permute it to C×H×W)" if x.shape[-1] == channels else ""
        raise ValueError(f"expected images of {expected}, got shape {tuple(x.shape[1:])}{hint}")
    if not x.is_floating_point():
        raise ValueError(f"x holds {x.dtype} pixels; CAM needs normalised float images: "
                         f"cnnzoo.compute.normalize(images, mean, std) with the model's mean and std")
    param = next(model.parameters(), None)
    if param is not None:
        x = x.to(param.device, param.dtype)
    return x


def _pick_classes(logits: torch.Tensor, class_idx, top_k) -> torch.Tensor:
    """(N, k) int64 class indices on the logits' device, checked against the number of classes."""
    n, num_classes = logits.shape
    if class_idx is None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or not 1 <= top_k <= num_classes:
            raise ValueError(f"top_k must be an integer from 1 to {num_classes} (the number of classes), got {top_k!r}")
        return logits.topk(int(top_k), dim=1).indices
    if top_k != 1:
        raise ValueError("give class_idx or top_k, not both")
    if isinstance(class_idx, bool):
        raise ValueError(f"class_idx must be an integer class index, got {class_idx!r}")
    classes = torch.as_tensor(class_idx, device=logits.device)
    if classes.is_floating_point() or classes.is_complex() or classes.dtype == torch.bool:
        raise ValueError(f"class_idx must hold integer class indices, got {classes.dtype}")
    classes = classes.long()
    if classes.dim() == 0:
        classes = classes.expand(n)
    if classes.dim() == 1:
        classes = classes[:, None]
    if classes.dim() != 2 or classes.shape[0] != n:
        raise ValueError(f"class_idx must be an int, {n} indices (one per image) or an ({n}, k) tensor, "
                         f"got shape {tuple(classes.shape)}")
    bad = classes[(classes < 0) | (classes >= num_classes)]
    if len(bad):
        raise ValueError(f"class index {bad[0].item()} is out of range: the model has {num_classes} classes, "
                         f"so use 0 to {num_classes - 1}")
    return classes
