"""From a map to a box: threshold, keep the largest connected region, box it.

    masks = threshold_masks(maps, [0.2, 0.5])          # (T, N, H, W): several thresholds at once
    boxes = mask_boxes(largest_region(masks))          # (T, N, 4) pixel-edge boxes
    boxes = cam_boxes(maps, 0.2, size=(32, 32))        # the same for one threshold, in image pixels

Boxes are in pixel-edge coordinates (cnnzoo.boxes).
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from cnnzoo.boxes import mask_boxes
from cnnzoo.cam.maps import upsample_cam

# Zhou et al.: "the regions whose value is above 20% of the max value of the CAM"; applied, as their
# released code does, to the min-max normalised map: min + 0.2 · (max − min) (threshold_masks).
PAPER_THRESHOLD = 0.2
BOX_MODES = ("largest", "all")


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
        check_threshold(t)
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    hi = maps.amax(dim=(-2, -1), keepdim=True)
    level = torch.tensor(levels, dtype=maps.dtype, device=maps.device).view(-1, *[1] * maps.dim())
    masks = (maps >= lo + level * (hi - lo)) | (maps == hi)  # (T, ..., H, W)
    return masks if several else masks[0]


def check_threshold(threshold) -> None:
    """A ValueError unless threshold is a number from 0 to 1 (a fraction of a map's range)."""
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
