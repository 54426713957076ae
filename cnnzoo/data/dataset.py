"""What a dataset is, which ones exist, and the operations every source shares.

ImageDataset holds one split in memory; the table below says what each name load_dataset
accepts is (channels, native size, classes, offline or not) without loading anything; the
stratified order, subset and validation split and the channel statistics work on any of them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

SPLITS = ("train", "test")
OFFLINE_ALTERNATIVES = "digits (handwritten 8×8 digits) and shapes (coloured shapes with boxes)"


class DatasetUnavailable(ValueError):
    """A torchvision dataset is not on disk and cannot be downloaded right now."""


@dataclass
class ImageDataset:
    """Images and labels held in memory, plus what a model needs to know about them.

    `mean` and `std` are per-channel statistics of images/255 on the *training* split, so a
    test split carries the same numbers as its training split. `boxes` (shapes only) are
    tight ground-truth boxes in pixel-edge coordinates: the object covers the pixels
    x0 <= col < x1 and y0 <= row < y1, so x1 - x0 is its width in pixels.
    The tensors may be shared with other copies of the dataset: treat them as read-only.
    """

    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip: bool  # is a horizontal flip label-preserving?
    boxes: torch.Tensor | None = None  # float (N, 4): x0, y0, x1, y1
    split: str = "train"
    skipped: list[str] = field(default_factory=list)  # files that could not be read (folder)

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need one value per channel ({self.channels})")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[2:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def augment_pad(self) -> int:
        """Pad for random crops: the CIFAR recipe's 4 pixels at 32×32, scaled with the image."""
        return max(1, round(min(self.image_size) / 8))

    def subset(self, indices) -> ImageDataset:
        """The images at `indices` (a list, range, index tensor or boolean mask), same statistics."""
        index = torch.as_tensor(indices)
        index = index.nonzero().squeeze(1) if index.dtype == torch.bool else index.long()
        return replace(
            self,
            images=self.images[index],
            labels=self.labels[index],
            boxes=None if self.boxes is None else self.boxes[index],
            skipped=list(self.skipped),
        )

    def meta(self) -> dict:
        """What a checkpoint records about its data (JSON-ready)."""
        return {
            "dataset": self.name,
            "class_names": list(self.class_names),
            "mean": list(self.mean),
            "std": list(self.std),
            "input_size": [self.channels, *self.image_size],
        }

    def __repr__(self) -> str:
        c, (h, w) = self.channels, self.image_size
        boxes = ", with boxes" if self.boxes is not None else ""
        return (f"ImageDataset({self.name!r}, {self.split}, {len(self)} × ({c}, {h}, {w}), "
                f"{self.num_classes} classes{boxes})")


# ----------------------------------------------------------------------------------------
# What exists
# ----------------------------------------------------------------------------------------

DIGIT_NAMES = [str(d) for d in range(10)]
SHAPE_NAMES = ["circle", "ring", "square", "triangle", "star", "cross", "heart", "crescent", "ellipse", "arrow"]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

INFO = {
    "digits": dict(channels=1, size=8, num_classes=10, class_names=DIGIT_NAMES, offline=True, flip=False,
                   train_size=1437, test_size=360,
                   description="UCI handwritten digits, 8×8 grey (shipped, CC BY 4.0)"),
    "shapes": dict(channels=3, size=32, num_classes=10, class_names=SHAPE_NAMES, offline=True, flip=True,
                   train_size=10_000, test_size=2_000,
                   description="procedural coloured shapes on clutter, with ground-truth boxes"),
    "mnist": dict(channels=1, size=28, num_classes=10, class_names=DIGIT_NAMES, offline=False, flip=False,
                  train_size=60_000, test_size=10_000, description="MNIST handwritten digits (torchvision)"),
    "fashion-mnist": dict(channels=1, size=28, num_classes=10, class_names=FASHION_NAMES, offline=False, flip=True,
                          train_size=60_000, test_size=10_000, description="Zalando Fashion-MNIST (torchvision)"),
    "cifar10": dict(channels=3, size=32, num_classes=10, class_names=CIFAR10_NAMES, offline=False, flip=True,
                    train_size=50_000, test_size=10_000, description="CIFAR-10 (torchvision)"),
    "cifar100": dict(channels=3, size=32, num_classes=100, class_names=None, offline=False, flip=True,
                     train_size=50_000, test_size=10_000, description="CIFAR-100, fine labels (torchvision)"),
    "folder": dict(channels=3, size=32, num_classes=None, class_names=None, offline=True, flip=True,
                   train_size=None, test_size=None,
                   description="your own pictures: a folder (or .zip) with one sub-folder per class"),
}

# The usual published statistics, so that a test split needs no pass over its training split.
TORCHVISION_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}

# How a run normalises its inputs (TrainConfig.normalisation): "dataset", the dataset's own
# statistics (above, or measured on its training split); "none", x/255 in [0, 1] as ToTensor()
# alone leaves it (the Inception tutorial, seed 002); "seeds-cifar", the mean/std the seeds' CIFAR
# code normalises with (kuangliu/pytorch-cifar's; its std is not CIFAR-10's, see cifar10 above).
NORMALISATIONS = ("dataset", "none", "seeds-cifar")
SEEDS_CIFAR_STATS = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))


def check_normalisation(how: str, channels: int) -> None:
    """ValueError, saying what to choose, for a normalisation these images cannot have."""
    if how not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {how!r}")
    if how == "seeds-cifar" and channels != 3:
        raise ValueError(f"the seeds' CIFAR mean/std is for colour images; this dataset has {channels} channel(s): "
                         f"use normalisation 'dataset' or 'none'")


def with_normalisation(ds: ImageDataset, how: str) -> ImageDataset:
    """ds with the mean/std of normalisation `how` (NORMALISATIONS); the images are shared."""
    check_normalisation(how, ds.channels)
    if how == "dataset":
        return ds
    mean, std = SEEDS_CIFAR_STATS if how == "seeds-cifar" else ((0.0,) * ds.channels, (1.0,) * ds.channels)
    return replace(ds, mean=mean, std=std)


def dataset_names() -> list[str]:
    """All dataset names load_dataset accepts, built-in (offline) ones first."""
    return list(INFO)


def dataset_info(name: str) -> dict:
    """Channels, native size, classes and whether it works offline; loads nothing.

    `size` is the native side length; `class_names` is None where it is only known after
    loading (cifar100, folder).
    """
    check_name(name)
    info = dict(INFO[name], name=name)
    if info["class_names"] is not None:
        info["class_names"] = list(info["class_names"])
    return info


def check_name(name: str) -> None:
    if name not in INFO:
        raise ValueError(f"Unknown dataset {name!r}. Choose one of: {', '.join(INFO)}.")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def check_size(image_size) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 4 <= image_size <= 512:
        raise ValueError(f"image_size must be an integer from 4 to 512, got {image_size!r}")


def default_data_dir() -> Path:
    """Where torchvision datasets live: $CNNZOO_DATA_DIR, else ./data."""
    return Path(os.environ.get("CNNZOO_DATA_DIR") or "data")


# ----------------------------------------------------------------------------------------
# Orders, subsets, splits and statistics
# ----------------------------------------------------------------------------------------


def stratified_order(labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random order of all indices in which every prefix has (nearly) the class proportions.

    Shuffle, give each image its rank r among the n_c images of its class, and sort by
    (r + 0.5) / n_c: the first k indices then hold about k * n_c / N images of class c.
    """
    labels = torch.as_tensor(labels).cpu()
    n = len(labels)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    by_class = perm[torch.sort(labels[perm], stable=True).indices]  # classes in blocks, random within
    sorted_labels = labels[by_class]
    counts = torch.bincount(sorted_labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[sorted_labels]
    fraction = (rank + 0.5) / counts[sorted_labels]
    return by_class[torch.sort(fraction, stable=True).indices]


def stratified_subset(ds: ImageDataset, num_images: int | None, seed: int = 0) -> ImageDataset:
    """A stratified subset of num_images, in the dataset's order (all of them when None or larger)."""
    if num_images is None or num_images >= len(ds):
        return ds
    keep = stratified_order(ds.labels, seed)[:num_images].sort().values
    return ds.subset(keep)


def split_validation(ds: ImageDataset, fraction: float, seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """(train, validation): a stratified, deterministic split of `ds`, so that the best
    epoch can be chosen without looking at the test set."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1, got {fraction!r}")
    n_val = round(len(ds) * fraction)
    if not 0 < n_val < len(ds):
        raise ValueError(f"a {fraction:.0%} validation split of {len(ds)} images would leave one side empty")
    order = stratified_order(ds.labels, seed)
    train, val = order[n_val:].sort().values, order[:n_val].sort().values
    return ds.subset(train), replace(ds.subset(val), split="validation")


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of images/255, for uint8 (N, C, H, W); in float64 chunks."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in images.split(4096):
        x = chunk.to(torch.float64).div_(255).transpose(0, 1).reshape(c, -1)
        total += x.sum(1)
        total_sq += (x * x).sum(1)
    count = images.numel() // c
    mean = total / count
    std = (total_sq / count - mean**2).clamp_min(1e-12).sqrt()
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())
