"""Class activation maps: where a CNN looks when it names a class, and the box that follows.

Zhou, Khosla, Lapedriza, Oliva & Torralba, "Learning Deep Features for Discriminative
Localization", CVPR 2016 (arXiv:1512.04150). A network that ends in global average pooling
(GAP) and one linear layer scores class c as

    S_c = Σ_k w_k^c F_k + b_c,        F_k = 1/(hw) Σ_{x,y} f_k(x, y)

where f_k is channel k of the last feature map (h × w) and w_k^c, b_c are the linear layer's
weight and bias. Swapping the two sums gives the class activation map (CAM)

    M_c(x, y) = Σ_k w_k^c f_k(x, y)          and then      S_c = mean_{x,y} M_c(x, y) + b_c:

the score is the average of M_c plus the bias, so M_c(x, y) is how much location (x, y)
contributes to "this is a c". Upsampled to the image it shows where the evidence lies;
thresholding it gives a box learned from class labels alone (weakly supervised localisation).

Global max pooling (GMP), the paper's comparison: the same maps M_c, but the read-out is
S_c = Σ_k w_k^c max_{x,y} f_k(x, y) + b_c. Each channel contributes from its own peak, and the
peaks may sit in different places, so S_c is *not* max_{x,y} M_c + b_c (nor its mean + b_c).

Heads other than pooling + linear (inception_mnist flattens its 4×4 map into the linear layer)
get Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391) on the same forward_features map:

    α_k^c = mean_{x,y} ∂S_c/∂f_k(x, y),       L_c(x, y) = ReLU(Σ_k α_k^c f_k(x, y)).

For a GAP + linear head ∂S_c/∂f_k(x, y) = w_k^c / (hw), so Grad-CAM is ReLU(M_c) / (hw): CAM
is its special case. Results say which method made them (`CAMResult.method`): label pictures.

No hooks are needed: every cnnzoo classifier exposes forward_features / forward_head, so the
feature map and the head are called directly and nothing is left attached to the model.

    result = cam_topk(model, x, k=3)                   # one forward pass
    boxes = cam_boxes(result.maps[:, 0], 0.5, size=result.input_size)
    picture = overlay_cam(image_uint8, result.maps[0, 0], box=boxes[0])
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnzoo.boxes import box_area, box_iou, mask_boxes
from cnnzoo.compute import eval_mode
from cnnzoo.models.common import Classifier, ClassifierHead

PAPER_THRESHOLD = 0.2  # Zhou et al.: keep the region above 20% of the map's maximum
BOX_MODES = ("largest", "all")
METHODS = ("auto", "CAM", "Grad-CAM")
# Thresholds of the localisation curve: 0.10, 0.15, ..., 0.80
CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 17))
PREDICTED_BOX_COLOR = (255, 255, 255)  # white: visible on jet and inferno alike
TRUE_BOX_COLOR = (0, 255, 0)  # green, as the paper's ground-truth boxes


# ----------------------------------------------------------------------------------------
# Computing maps
# ----------------------------------------------------------------------------------------


@dataclass
class CAMResult:
    """Maps for k classes of each image, from one forward pass.

    maps     (N, k, h, w) raw maps at the feature map's resolution: M_c for CAM (any sign),
             ReLU(Σ α f) for Grad-CAM. Not normalised: see normalize_cam for display.
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

    def upsampled(self) -> torch.Tensor:
        """maps bilinearly upsampled to the input size: (N, k, H, W)."""
        return upsample_cam(self.maps, self.input_size)


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

    One forward pass, in eval mode (BatchNorm uses its running statistics); the model's
    train/eval mode is restored afterwards, also after an error. Gradients of the weights are
    never touched: Grad-CAM differentiates with respect to the feature map only.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not (hasattr(model, "forward_features") and hasattr(model, "forward_head")):
        raise ValueError("CAM needs a classifier with forward_features(x) and forward_head(features); "
                         "every cnnzoo classifier has them (create_model or load_checkpoint).")
    natural = cam_method(model)
    if method == "CAM" and natural != "CAM":
        raise ValueError(f"{type(model).__name__} has no global-pooling + linear head, so CAM is not defined "
                         f"for it; use method='Grad-CAM' (or 'auto').")
    method = natural if method == "auto" else method
    x = _as_batch(model, x)

    with eval_mode(model):
        with torch.no_grad():
            features = model.forward_features(x)  # (N, C, h, w)
        if method == "CAM":
            with torch.no_grad():
                logits = model.forward_head(features)  # (N, K)
                classes = _pick_classes(logits, class_idx, top_k)  # (N, k)
                weights = model.head.fc.weight[classes]  # (N, k, C): w_k^c of each chosen class
                maps = torch.einsum("nkc,nchw->nkhw", weights, features)  # M_c(x, y)
        else:
            maps, logits, classes = _grad_cam(model, features, class_idx, top_k)

    logits = logits.float()
    probs = logits.softmax(1).gather(1, classes)
    pooling = model.head.pool if method == "CAM" else None
    return CAMResult(maps.float(), classes, probs, logits, method, pooling, tuple(x.shape[2:]))


def _grad_cam(model, features, class_idx, top_k):
    # Only the head is differentiated: a leaf copy of the features, so no backbone graph is
    # built and no parameter's .grad changes.
    with torch.enable_grad():
        features = features.detach().requires_grad_(True)
        logits = model.forward_head(features)  # (N, K)
        classes = _pick_classes(logits.detach(), class_idx, top_k)
        scores = logits.gather(1, classes)  # (N, k) S_c of each chosen class
        maps = []
        for j in range(classes.shape[1]):
            # Images are independent in eval mode, so the gradient of the sum is each image's own.
            (grads,) = torch.autograd.grad(scores[:, j].sum(), features, retain_graph=j + 1 < classes.shape[1])
            alpha = grads.mean(dim=(2, 3))  # (N, C): α_k^c
            maps.append(F.relu(torch.einsum("nc,nchw->nhw", alpha, features.detach())))
    return torch.stack(maps, 1), logits.detach(), classes  # (N, k, h, w)


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
                         f"cnnzoo.data.normalize(images, mean, std) with the model's mean and std")
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


# ----------------------------------------------------------------------------------------
# From a map to a picture and a box
# ----------------------------------------------------------------------------------------


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


def threshold_masks(maps: torch.Tensor, threshold=PAPER_THRESHOLD) -> torch.Tensor:
    """Boolean (..., H, W): the locations at or above `threshold` of each map's range.

    M(x, y) >= min M + threshold · (max M − min M): the paper's "fraction of the maximum",
    measured from the map's minimum (the min-max scale of normalize_cam), which is what
    common CAM box code does and what keeps negative maps meaningful. The maximum always
    passes; a flat map passes everywhere (it says nothing about where). A sequence of T
    thresholds gives (T, ..., H, W) at once.
    """
    several = not isinstance(threshold, numbers.Real)
    levels = [float(t) for t in threshold] if several else [threshold]
    for t in levels:
        _check_threshold(t)
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    level = torch.tensor(levels, dtype=maps.dtype, device=maps.device).view(-1, *[1] * maps.dim())
    masks = (maps >= lo + level * (hi - lo)) | (maps == hi)  # (T, ..., H, W)
    return masks if several else masks[0]


def _check_threshold(threshold) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a fraction of the map's maximum, from 0 to 1 (the paper uses "
                         f"{PAPER_THRESHOLD}), got {threshold!r}")


def largest_region(masks: torch.Tensor, connectivity: int = 8) -> torch.Tensor:
    """Keep only the largest connected region of each boolean (..., H, W) mask.

    Connected components as a union-find run in parallel over a whole batch of masks. Every
    pixel of a mask has a parent, at first itself; following parents leads to a root, the
    region's label. Each round: (1) every pixel looks at its 4 or 8 neighbours' labels, and
    where one is smaller, hooks its own root onto it (roots only ever move to smaller labels,
    so no cycle can form); (2) pointer jumping, parent <- parent[parent], until every pixel
    points straight at its root. When no pixel sees a smaller label, each region is one tree
    whose root is its smallest pixel index. A few rounds suffice even for winding regions.
    Ties between equally large regions go to the one with the smaller label.

    Layout: each mask gets a one-pixel background ring and all masks are laid end to end in
    one flat array, so "the neighbour above" is the fixed offset −(W + 2) and every neighbour
    lookup is a shifted contiguous slice; the ring keeps neighbours from crossing masks.
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 (edges) or 8 (edges and corners), got {connectivity!r}")
    lead, (h, w) = masks.shape[:-2], masks.shape[-2:]
    n, row = masks[..., 0, 0].numel(), w + 2
    cells = (h + 2) * row  # one mask with its ring
    total = n * cells
    outside = total  # label of background pixels: larger than every pixel index
    device = masks.device
    inside = F.pad(masks.reshape(n, h, w).bool(), (1, 1, 1, 1)).reshape(total)
    # parent of every pixel, plus one last slot for `outside`, which points at itself
    parent = torch.full((total + 1,), outside, dtype=torch.long, device=device)
    parent[:total] = torch.where(inside, torch.arange(total, device=device), outside)
    steps = [-row, row, -1, 1] + ([-row - 1, -row + 1, row - 1, row + 1] if connectivity == 8 else [])
    margin = row + 1
    shifted = torch.full((total + 2 * margin,), outside, dtype=torch.long, device=device)
    while True:
        labels = parent[:total]  # every pixel's root
        shifted[margin:margin + total] = labels
        smallest = labels.clone()
        for step in steps:  # the smallest label among the pixel and its neighbours
            torch.minimum(smallest, shifted[margin + step:margin + step + total], out=smallest)
        hooks = (inside & (smallest < labels)).nonzero().squeeze(1)
        if len(hooks) == 0:
            break
        parent.scatter_reduce_(0, labels[hooks], smallest[hooks], "amin")  # root -> smaller label
        while True:  # pointer jumping
            jumped = parent.gather(0, parent)
            if torch.equal(jumped, parent):
                break
            parent = jumped
    # region sizes per mask: count each pixel under its root's index within its own mask
    labels = parent[:total].view(n, cells)
    local = torch.where(labels == outside, cells, labels - torch.arange(n, device=device).view(n, 1) * cells)
    sizes = torch.zeros(n, cells + 1, dtype=torch.long, device=device)
    sizes.scatter_add_(1, local, torch.ones_like(local))
    sizes[:, cells] = 0  # background is no region
    biggest = sizes.argmax(1).view(n, 1)  # first (smallest) label among equal sizes
    keep = (local == biggest) & inside.view(n, cells)
    return keep.view(n, h + 2, row)[:, 1:-1, 1:-1].reshape(*lead, h, w)


def cam_boxes(maps: torch.Tensor, threshold: float = PAPER_THRESHOLD, *, mode: str = "largest",
              connectivity: int = 8, size=None) -> torch.Tensor:
    """Boxes (..., 4) from maps (..., h, w): threshold, then a region, then its bounding box.

    threshold  fraction of each map's range (see threshold_masks); 0.2 is the paper's
    mode       "largest": the box around the largest connected region above the threshold
               (the paper's); "all": the box around every location above it
    size       upsample the maps to this (H, W) first, so boxes are in image pixels;
               None: boxes in feature-map cells
    """
    if mode not in BOX_MODES:
        raise ValueError(f"mode must be one of {BOX_MODES}, got {mode!r}")
    if size is not None:
        maps = upsample_cam(maps, size)
    masks = threshold_masks(maps, threshold)
    if mode == "largest":
        masks = largest_region(masks, connectivity)
    return mask_boxes(masks)


# ----------------------------------------------------------------------------------------
# Localisation accuracy on a dataset with boxes
# ----------------------------------------------------------------------------------------


@dataclass
class LocalisationResult:
    """The paper's localisation measure over a range of thresholds.

    accuracy[i]    share of images whose class is right AND whose box (of the predicted
                   class, at thresholds[i]) has IoU >= iou_min with the true box
    box_hits[i]    share with IoU >= iou_min whatever the class
    mean_iou[i]    mean IoU
    area_ratio[i]  median of predicted box area / true box area (> 1: boxes too large)
    """

    thresholds: list[float]
    accuracy: list[float]
    box_hits: list[float]
    mean_iou: list[float]
    area_ratio: list[float]
    classification_accuracy: float
    num_images: int
    method: str
    mode: str
    iou_min: float

    @property
    def best_threshold(self) -> float:
        """The threshold with the highest localisation accuracy (the lowest of equals)."""
        return self.thresholds[int(np.argmax(self.accuracy))]

    def at(self, threshold: float) -> float:
        """Localisation accuracy at one of the measured thresholds."""
        for t, acc in zip(self.thresholds, self.accuracy):
            if math.isclose(t, threshold, abs_tol=1e-9):
                return acc
        raise ValueError(f"threshold {threshold} was not measured; measured: {self.thresholds}")

    def rows(self) -> list[dict]:
        """One dict per threshold (for a table or a pandas DataFrame)."""
        return [dict(threshold=t, localisation=a, box_hits=h, mean_iou=m, area_ratio=r)
                for t, a, h, m, r in zip(self.thresholds, self.accuracy, self.box_hits, self.mean_iou,
                                         self.area_ratio)]


def localisation_accuracy(model: nn.Module, ds, thresholds: Sequence[float] = CURVE_THRESHOLDS, *,
                          mode: str = "largest", connectivity: int = 8, iou_min: float = 0.5,
                          batch_size: int = 250, mean=None, std=None, limit: int | None = None,
                          method: str = "auto") -> LocalisationResult:
    """Localisation accuracy of `model` on a dataset with ground-truth boxes (shapes).

    For each image: the map of the predicted class, upsampled to the image size, a box at each
    threshold (cam_boxes), its IoU with the true box. All thresholds are boxed at once per
    batch. mean/std: the model's normalisation (default: the dataset's).
    """
    from cnnzoo.data import normalize

    if getattr(ds, "boxes", None) is None:
        raise ValueError(f"the {getattr(ds, 'name', 'given')} dataset has no ground-truth boxes; "
                         f"localisation needs one (the built-in 'shapes' dataset has them)")
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("give at least one threshold")
    for t in thresholds:
        _check_threshold(t)
    if mode not in BOX_MODES:
        raise ValueError(f"mode must be one of {BOX_MODES}, got {mode!r}")
    n = len(ds) if limit is None else min(limit, len(ds))
    mean = ds.mean if mean is None else mean
    std = ds.std if std is None else std
    device = next(model.parameters()).device
    ious, areas, correct, used = [], [], [], None
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        x = normalize(ds.images[start:stop].to(device), mean, std)
        result = compute_cam(model, x, method=method)
        used = result.method
        maps = upsample_cam(result.maps[:, 0], result.input_size)  # (B, H, W)
        masks = threshold_masks(maps, thresholds)  # (T, B, H, W): every threshold at once
        if mode == "largest":
            masks = largest_region(masks, connectivity)
        boxes = mask_boxes(masks)  # (T, B, 4)
        truth = ds.boxes[start:stop].to(device)
        ious.append(box_iou(boxes, truth).cpu())
        areas.append((box_area(boxes) / box_area(truth).clamp_min(1)).cpu())
        correct.append((result.classes[:, 0] == ds.labels[start:stop].to(device)).cpu())
    iou = torch.cat(ious, 1)  # (T, n)
    area = torch.cat(areas, 1)
    right = torch.cat(correct)  # (n,)
    hit = iou >= iou_min
    return LocalisationResult(
        thresholds=thresholds,
        accuracy=(hit & right).float().mean(1).tolist(),
        box_hits=hit.float().mean(1).tolist(),
        mean_iou=iou.mean(1).tolist(),
        area_ratio=area.median(1).values.tolist(),
        classification_accuracy=right.float().mean().item(),
        num_images=n, method=used, mode=mode, iou_min=iou_min,
    )


# ----------------------------------------------------------------------------------------
# Display: heatmap overlays with boxes
# ----------------------------------------------------------------------------------------


def _image_hwc(image) -> np.ndarray:
    """uint8 (H, W, 3) from a uint8 tensor (C, H, W) or array (H, W), (H, W, 1|3)."""
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f"an image tensor must be uint8 (C, H, W) with C = 1 or 3, got {tuple(image.shape)}")
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3) or image.dtype != np.uint8:
        raise ValueError(f"an image must be uint8 (H, W), (H, W, 1) or (H, W, 3), got {image.dtype} {image.shape}")
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def colorize(values: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """uint8 (H, W, 3) colours of values in [0, 1] through a matplotlib colour map, by name."""
    from matplotlib import colormaps  # imported on use: keeps `import cnnzoo` light

    try:
        cmap = colormaps[colormap]
    except KeyError:
        raise ValueError(f"unknown colour map {colormap!r}; try jet, inferno, viridis, magma or turbo") from None
    return (cmap(np.asarray(values, dtype=np.float64))[..., :3] * 255).round().astype(np.uint8)


def draw_box(picture: np.ndarray, box, color=PREDICTED_BOX_COLOR, width: int = 1) -> np.ndarray:
    """Draw a box outline (pixel-edge x0, y0, x1, y1) into an (H, W, 3) uint8 array, in place."""
    h, w = picture.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    x0, y0 = max(0, min(x0, w)), max(0, min(y0, h))
    x1, y1 = max(x0, min(x1, w)), max(y0, min(y1, h))
    if x1 <= x0 or y1 <= y0:
        return picture
    color = np.asarray(color, dtype=np.uint8)
    picture[y0:min(y0 + width, y1), x0:x1] = color  # top
    picture[max(y1 - width, y0):y1, x0:x1] = color  # bottom
    picture[y0:y1, x0:min(x0 + width, x1)] = color  # left
    picture[y0:y1, max(x1 - width, x0):x1] = color  # right
    return picture


def overlay_cam(image, cam: torch.Tensor, *, colormap: str = "jet", opacity: float = 0.5, box=None,
                true_box=None, size=None, box_color=PREDICTED_BOX_COLOR,
                true_box_color=TRUE_BOX_COLOR) -> np.ndarray:
    """The image with its CAM as a heatmap on top, and boxes: uint8 (H, W, 3).

    image    uint8 (C, H, W) tensor or (H, W[, C]) array; grey images become RGB
    cam      one raw map (h, w): upsampled bilinearly, min-max normalised (normalize_cam),
             coloured with `colormap` (any matplotlib name) and blended:
             (1 − opacity) · image + opacity · heatmap
    box, true_box  (x0, y0, x1, y1) in the image's pixel-edge coordinates
    size     output side (int) or (H, W): small images are enlarged with nearest neighbours
             (their pixels stay visible) while the map is upsampled smoothly to that size
    """
    if isinstance(opacity, bool) or not isinstance(opacity, numbers.Real) or not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be from 0 (image only) to 1 (heatmap only), got {opacity!r}")
    cam = torch.as_tensor(cam).detach().cpu()
    if cam.dim() != 2:
        raise ValueError(f"overlay_cam takes one map (h, w), got shape {tuple(cam.shape)}")
    picture = _image_hwc(image)
    h, w = picture.shape[:2]
    out_h, out_w = (h, w) if size is None else ((size, size) if isinstance(size, numbers.Integral) else tuple(size))
    if (out_h, out_w) != (h, w):
        from PIL import Image

        resample = Image.Resampling.NEAREST if out_h >= h and out_w >= w else Image.Resampling.BILINEAR
        picture = np.asarray(Image.fromarray(picture).resize((out_w, out_h), resample))
    heat = colorize(normalize_cam(upsample_cam(cam, (out_h, out_w))).numpy(), colormap)
    blended = (1 - opacity) * picture.astype(np.float32) + opacity * heat.astype(np.float32)
    out = blended.round().clip(0, 255).astype(np.uint8)
    scale = np.array([out_w / w, out_h / h, out_w / w, out_h / h])
    line = max(1, round(min(out_h, out_w) / 128))
    for b, color in ((true_box, true_box_color), (box, box_color)):
        if b is not None:
            draw_box(out, np.asarray(torch.as_tensor(b, dtype=torch.float32).cpu()) * scale, color, line)
    return out


def caption_below(picture: np.ndarray, text: str) -> np.ndarray:
    """The picture with a line of text under it, on black: uint8 (H + text height, W, 3)."""
    from PIL import Image, ImageDraw, ImageFont

    height = max(12, picture.shape[1] // 12)
    font = ImageFont.load_default(size=height - 2)
    band = Image.new("RGB", (picture.shape[1], height))
    ImageDraw.Draw(band).text((2, 0), text, fill=(255, 255, 255), font=font)
    return np.concatenate([picture, np.asarray(band)], axis=0)


# ----------------------------------------------------------------------------------------
# CAM timeline: one probe image, one map per epoch of a training run
# ----------------------------------------------------------------------------------------


@dataclass
class CAMFrame:
    epoch: float
    map: torch.Tensor  # (h, w) raw map, on the CPU
    class_idx: int
    prob: float
    method: str


@dataclass
class CAMTimeline:
    """Record the CAM of one probe image at every epoch end of a training run.

        timeline = CAMTimeline(test_set.images[7])          # uint8 (C, H, W)
        for event in timeline.record(trainer.run(), trainer):
            ...                                             # the events, unchanged
        timeline.strip()                                    # uint8 picture, one overlay per epoch
        timeline.save_gif("runs/cam.gif")

    class_idx  fixed class to map (e.g. the probe's true label), or None for the class the
               model predicts at each epoch (it may change while the model learns)
    include_start  also record the untrained model, before the first step (epoch 0)
    mean, std  the probe's normalisation; None: the trainer's training-set statistics

    A frame is taken at each "eval" event that falls on a whole epoch, and at the "end" of a
    run that stopped between epochs (not after a NaN). The map costs one batch-1 forward pass.
    """

    probe_image: torch.Tensor
    class_idx: int | None = None
    include_start: bool = False
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None
    frames: list[CAMFrame] = field(default_factory=list)

    def __post_init__(self):
        image = self.probe_image
        if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.dim() != 3:
            shape = tuple(image.shape) if hasattr(image, "shape") else type(image).__name__
            raise ValueError(f"the probe image must be a uint8 (C, H, W) tensor (a dataset image or "
                             f"cnnzoo.data.load_image's result), got {shape}")

    def capture(self, model: nn.Module, epoch: float, mean, std) -> CAMFrame:
        """Take one frame now from `model` (also usable without a Trainer)."""
        from cnnzoo.data import normalize

        x = normalize(self.probe_image[None], mean, std)
        result = compute_cam(model, x, self.class_idx)
        frame = CAMFrame(float(epoch), result.maps[0, 0].cpu(), int(result.classes[0, 0]),
                         float(result.probs[0, 0]), result.method)
        self.frames.append(frame)
        return frame

    def record(self, events: Iterable, trainer) -> Iterator:
        """Yield the trainer's events unchanged, taking a frame when an epoch ends.

        Closing this generator (a Stop button) closes the trainer's generator too.
        """
        try:
            for event in events:
                if self._wants_frame(event):
                    train_set = trainer.train_set
                    mean = self.mean if self.mean is not None else train_set.mean
                    std = self.std if self.std is not None else train_set.std
                    self.capture(trainer.model, event.epoch, mean, std)
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _wants_frame(self, event) -> bool:
        last = self.frames[-1].epoch if self.frames else None
        if event.kind == "start":
            return self.include_start and not self.frames
        if event.kind == "eval":
            return math.isclose(event.epoch, round(event.epoch), abs_tol=1e-6) and event.epoch != last
        if event.kind == "end":
            return event.reason != "nan" and event.epoch != last and event.step > 0
        return False

    def overlays(self, *, colormap: str = "jet", opacity: float = 0.5, size=128,
                 threshold: float | None = None, captions: bool = True, class_names=None) -> list[np.ndarray]:
        """One overlay per frame, `size` pixels square (None: the probe's own size), with a
        caption "ep <epoch> <class> <probability>" (class_names turn indices into names) and,
        given a threshold, the box."""
        if not self.frames:
            raise ValueError("the timeline has no frames yet: record a training run first")
        h, w = self.probe_image.shape[1:]
        pictures = []
        for frame in self.frames:
            box = None if threshold is None else cam_boxes(frame.map, threshold, size=(h, w))
            picture = overlay_cam(self.probe_image, frame.map, colormap=colormap, opacity=opacity, box=box, size=size)
            if captions:
                name = class_names[frame.class_idx] if class_names else str(frame.class_idx)
                picture = caption_below(picture, f"ep {frame.epoch:g} {name} {frame.prob:.0%}")
            pictures.append(picture)
        return pictures

    def strip(self, *, gap: int = 2, **overlay_options) -> np.ndarray:
        """All frames side by side, oldest first, `gap` black pixels around each: uint8 (H', W', 3)."""
        from cnnzoo.viz import make_grid

        pictures = torch.from_numpy(np.stack(self.overlays(**overlay_options))).permute(0, 3, 1, 2)
        return make_grid(pictures, nrow=len(pictures), padding=gap).numpy()

    def save_gif(self, path=None, *, fps: float = 2.0, **overlay_options) -> Path:
        """The frames as an animated GIF (cnnzoo.viz.save_gif), one per recorded epoch, looping.
        path None: a new file in the temp dir, where the UI may serve it from."""
        from cnnzoo.viz import save_gif

        return save_gif(self.overlays(**overlay_options), path, fps=fps)
