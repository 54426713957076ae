"""digits: the UCI 8×8 handwritten digits, shipped in cnnzoo/assets/ so that they work offline.

1,797 images of 0..16 ink counts (each pixel counts the ink in a 4×4 block of a 32×32
bitmap), with the fixed, stratified split of 1,437 / 360 recorded in the file. See
cnnzoo/assets/README.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnzoo.compute import resize_uint8
from cnnzoo.data.dataset import DIGIT_NAMES, ImageDataset, channel_stats

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def load_digits(split: str, image_size: int | None) -> ImageDataset:
    """One split of the digits, resized once to image_size (default 8); statistics of the training split."""
    with np.load(ASSETS / "digits.npz", allow_pickle=False) as f:
        counts, labels, is_test = f["images"], f["labels"], f["is_test"].astype(bool)
    scaled = (counts.astype(np.float32) * (255 / 16)).round().astype(np.uint8)  # 0..16 -> 0..255
    images = torch.from_numpy(scaled)[:, None]  # (1797, 1, 8, 8)
    images = resize_uint8(images, image_size or 8)
    labels = torch.from_numpy(labels.astype(np.int64))
    is_test = torch.from_numpy(is_test)
    mean, std = channel_stats(images[~is_test])
    keep = is_test if split == "test" else ~is_test
    return ImageDataset("digits", images[keep], labels[keep], list(DIGIT_NAMES), mean, std, flip=False, split=split)
