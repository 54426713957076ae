"""Localisation accuracy: the paper's measure of CAM boxes on a dataset with true boxes.

An image counts as localised when its predicted class is right AND the box around the map of
that class has IoU >= 0.5 with the true box (the ILSVRC criterion Zhou et al. report). Measured
over a range of thresholds, since the best one depends on the model.

This is top-1 localisation: one guess, the predicted class and its box. The paper's ILSVRC
figure (37.1%) is a top-5 error: five (class, box) guesses, right if any has the true class and
IoU >= 0.5. With 10 classes, five guesses cover half the classes; and for a net that classifies every
test image right, like the shipped shapes model (100.0%, checkpoints/simple-shapes-cam.md),
the two measures are equal, since its other four guesses have wrong classes.

    result = localisation_accuracy(model, load_dataset("shapes", "test"))
    result.best_threshold, result.at(0.2), result.rows()
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from cnnzoo.boxes import box_area, box_iou, mask_boxes
from cnnzoo.cam.maps import compute_cam, upsample_cam
from cnnzoo.cam.regions import BOX_MODES, check_threshold, largest_region, threshold_masks
from cnnzoo.compute import normalize

# Thresholds of the localisation curve: 0.10, 0.15, ..., 0.80
CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 17))


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
    thresholds = _checked_options(ds, thresholds, mode)
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
    right = torch.cat(correct)  # (n,)
    hit = iou >= iou_min
    return LocalisationResult(
        thresholds=thresholds,
        accuracy=(hit & right).float().mean(1).tolist(),
        box_hits=hit.float().mean(1).tolist(),
        mean_iou=iou.mean(1).tolist(),
        area_ratio=torch.cat(areas, 1).median(1).values.tolist(),
        classification_accuracy=right.float().mean().item(),
        num_images=n, method=used, mode=mode, iou_min=iou_min,
    )


def _checked_options(ds, thresholds, mode) -> list[float]:
    """The thresholds as floats, or a ValueError saying what to give instead."""
    if getattr(ds, "boxes", None) is None:
        raise ValueError(f"the {getattr(ds, 'name', 'given')} dataset has no ground-truth boxes; "
                         f"localisation needs one (the built-in 'shapes' dataset has them)")
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("give at least one threshold")
    for t in thresholds:
        check_threshold(t)
    if mode not in BOX_MODES:
        raise ValueError(f"mode must be one of {BOX_MODES}, got {mode!r}")
    return thresholds
