"""Datasets as resident tensors, and augmentation that runs on whole batches.

Every dataset is loaded once into memory as a uint8 tensor (N, C, H, W) plus int64 labels.
Training then never touches PIL or a DataLoader: a batch is an index into the resident
tensor, augmentation (random pad-and-crop, horizontal flip) is one gather over the whole
batch on the training device, and normalisation is one fused multiply-add:

    train = load_dataset("shapes", "train")              # ImageDataset, 10,000 × (3, 32, 32)
    for x, y in batches(train, 128, shuffle=True, device="cpu", augment=True):
        ...                                              # x: float (128, 3, 32, 32), normalised

The seeds' pipeline (torchvision Dataset -> per-sample PIL RandomCrop/Flip/ToTensor/Normalize
-> DataLoader) does the same work one image at a time in Python; benchmarks/augment.py
measures the difference.

Built-in datasets work offline: `digits` (the UCI 8×8 handwritten digits, shipped in
cnnzoo/assets/) and `shapes` (procedurally generated, with ground-truth boxes for CAM).
MNIST, Fashion-MNIST and CIFAR-10/100 are read from a data directory (`root`, else the
environment variable CNNZOO_DATA_DIR, else ./data) in torchvision's on-disk layout and
downloaded there when the machine is online. `folder` reads a user's own pictures.
"""
from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import pickle
import socket
import threading
import warnings
import weakref
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F

from cnnzoo.boxes import mask_boxes
from cnnzoo.compute import normalize, resize_uint8  # noqa: F401  (part of this module's interface)

ASSETS = Path(__file__).resolve().parent / "assets"
SPLITS = ("train", "test")
OFFLINE_ALTERNATIVES = "digits (handwritten 8×8 digits) and shapes (coloured shapes with boxes)"

# A user's folder: images are decoded one by one with PIL, so the cap keeps a load in
# the tens of seconds on a laptop, and a zip cannot unpack into more than this.
MAX_FOLDER_IMAGES = 20_000
MAX_ZIP_BYTES = 2 * 1024**3
# load_image refuses larger pictures instead of decoding gigabytes (a 10,000 × 10,000 photo
# is 100 M pixels and still loads).
MAX_IMAGE_PIXELS = 120_000_000


class DatasetUnavailable(ValueError):
    """A torchvision dataset is not on disk and cannot be downloaded right now."""


# ----------------------------------------------------------------------------------------
# The dataset object
# ----------------------------------------------------------------------------------------


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

    def subset(self, indices) -> "ImageDataset":
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

_INFO = {
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
_TORCHVISION_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def dataset_names() -> list[str]:
    """All dataset names load_dataset accepts, built-in (offline) ones first."""
    return list(_INFO)


def dataset_info(name: str) -> dict:
    """Channels, native size, classes and whether it works offline; loads nothing.

    `size` is the native side length; `class_names` is None where it is only known after
    loading (cifar100, folder).
    """
    _check_name(name)
    info = dict(_INFO[name], name=name)
    if info["class_names"] is not None:
        info["class_names"] = list(info["class_names"])
    return info


def _check_name(name: str) -> None:
    if name not in _INFO:
        raise ValueError(f"Unknown dataset {name!r}. Choose one of: {', '.join(_INFO)}.")


def default_data_dir() -> Path:
    """Where torchvision datasets live: $CNNZOO_DATA_DIR, else ./data."""
    return Path(os.environ.get("CNNZOO_DATA_DIR") or "data")


# ----------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------

_cache: dict[tuple, ImageDataset] = {}  # insertion order = least recently used first
_cache_lock = threading.Lock()
_key_locks: dict[tuple, threading.Lock] = {}
# CIFAR-10 at 32×32 is 150 MB, at 64×64 600 MB: keep a few datasets, not every variant ever asked for.
CACHE_BYTES = 1_500_000_000


def load_dataset(
    name: str,
    split: str = "train",
    *,
    image_size: int | None = None,
    root: str | os.PathLike | None = None,
    download: bool | None = None,
    seed: int = 0,
    num_images: int | None = None,
    path: str | os.PathLike | None = None,
    channels: int | None = None,
) -> ImageDataset:
    """Load one split of a dataset into memory as an ImageDataset.

    image_size   side length; images are resized once, here (default: the native size,
                 32 for `folder`). `shapes` is drawn directly at that size.
    root         data directory of the torchvision datasets (default: default_data_dir()).
    download     fetch a missing torchvision dataset? None: yes, unless the environment
                 variable CNNZOO_OFFLINE is set. When it is missing and cannot be fetched,
                 DatasetUnavailable (a ValueError) says where the files should be.
    seed         `shapes`: which random scenes; otherwise which images num_images keeps and
                 (folder) which images form the test split.
    num_images   `shapes`: how many to draw; otherwise a stratified subset of that many.
    path         `folder`: a directory with one sub-folder per class, or a .zip of one.
    channels     `folder`: 3 (RGB, default) or 1 (grey).

    Loads are cached per process: asking again for the same split is free.
    """
    _check_name(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if image_size is not None:
        _check_size(image_size)
    if num_images is not None and (isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1):
        raise ValueError(f"num_images must be a positive integer or None, got {num_images!r}")
    if name != "folder" and (path is not None or channels is not None):
        raise ValueError("path= and channels= are options of the 'folder' dataset only")

    if name == "folder":
        ds = _load_folder(path, split, image_size or 32, channels or 3, seed)
        return _take(ds, num_images, seed)

    if name in _TORCHVISION_STATS:
        root = Path(root) if root is not None else default_data_dir()
        if download is None:
            download = not os.environ.get("CNNZOO_OFFLINE")
        key = (name, split, image_size, str(root.resolve()), seed if num_images else 0, num_images)

        def loader():
            return _take(_load_torchvision(name, split, image_size, root, download), num_images, seed)
    elif name == "digits":
        key = (name, split, image_size, seed if num_images else 0, num_images)

        def loader():
            return _take(_load_digits(split, image_size), num_images, seed)
    else:  # shapes: drawn, not subsampled
        key = (name, split, image_size, seed, num_images)

        def loader():
            n = num_images or _INFO["shapes"][f"{split}_size"]
            return make_shapes(n, image_size=image_size or 32, seed=seed, split=split)
    return _cached(key, loader)


def _cached(key: tuple, loader) -> ImageDataset:
    # One lock per key: thirty students asking for the same dataset at once wait for a single
    # load, while a slow download of another dataset blocks nobody else.
    with _cache_lock:
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        with _cache_lock:
            hit = _cache.pop(key, None)
            if hit is not None:
                _cache[key] = hit  # most recently used goes last
        if hit is None:
            hit = loader()
            with _cache_lock:
                _cache[key] = hit
                while len(_cache) > 1 and sum(d.images.nbytes for d in _cache.values()) > CACHE_BYTES:
                    _cache.pop(next(iter(_cache)))
    # A shallow copy: callers may reassign fields without affecting the cache.
    return replace(hit, class_names=list(hit.class_names), skipped=list(hit.skipped))


def _check_size(image_size) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 4 <= image_size <= 512:
        raise ValueError(f"image_size must be an integer from 4 to 512, got {image_size!r}")


def _take(ds: ImageDataset, num_images: int | None, seed: int) -> ImageDataset:
    """A stratified subset of num_images (all of them when None or larger)."""
    if num_images is None or num_images >= len(ds):
        return ds
    keep = stratified_order(ds.labels, seed)[:num_images].sort().values
    return ds.subset(keep)


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


# ----------------------------------------------------------------------------------------
# digits: the UCI 8×8 handwritten digits, shipped
# ----------------------------------------------------------------------------------------


def _load_digits(split: str, image_size: int | None) -> ImageDataset:
    # 1,797 images of 0..16 ink counts (a 4×4 block of a 32×32 bitmap each), fixed split
    # of 1,437 / 360 recorded in the file. See cnnzoo/assets/README.md.
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


# ----------------------------------------------------------------------------------------
# shapes: procedural coloured shapes with ground-truth boxes
# ----------------------------------------------------------------------------------------
# Each shape is a mask over canonical coordinates (u, v) in which the object fits the unit
# circle; the image maps every pixel into that frame (translate, rotate, scale), so one
# comparison per pixel draws the shape for a whole batch of images at once.


def _star_mask(u, v, points=5, inner=0.42):
    # Fold the angle into one half-point sector, then test against the edge from the outer
    # tip (1, 0) to the inner corner at angle pi/points.
    sector = math.pi / points
    angle = torch.atan2(v, u).remainder(2 * sector)
    angle = torch.minimum(angle, 2 * sector - angle)
    rho = torch.sqrt(u * u + v * v)
    x, y = rho * torch.cos(angle), rho * torch.sin(angle)
    bx, by = inner * math.cos(sector), inner * math.sin(sector)
    # inside when (x, y) lies on the origin's side of the line through (1, 0) and (bx, by)
    return (bx - 1) * y - by * (x - 1) >= 0


def _triangle_mask(u, v):
    inside = torch.ones_like(u, dtype=torch.bool)
    for k in range(3):  # three half-planes, edges at distance 0.5 from the centre
        a = -math.pi / 2 + 2 * math.pi * k / 3
        inside &= u * math.cos(a) + v * math.sin(a) <= 0.5
    return inside


def _heart_mask(u, v):
    # The heart x² + (y − |x|^(2/3))² <= 1 (deep notch, pointed tip), scaled into the unit
    # circle; v grows downwards, so y = −v puts the tip at the bottom before rotation.
    x, y = u * 1.35, -v * 1.35 + 0.3
    return x * x + (y - x.abs().pow(2 / 3)) ** 2 <= 1


def _arrow_mask(u, v):
    shaft = (u >= -0.95) & (u <= 0.15) & (v.abs() <= 0.2)
    head = (u >= 0.05) & (u <= 0.95) & (v.abs() <= 0.68 * (0.95 - u) / 0.9)
    return shaft | head


_SHAPE_MASKS = {
    "circle": lambda u, v: u * u + v * v <= 0.82**2,
    "ring": lambda u, v: ((u * u + v * v) <= 1.0) & ((u * u + v * v) >= 0.52**2),
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) <= 0.68,
    "triangle": _triangle_mask,
    "star": _star_mask,
    "cross": lambda u, v: ((u.abs() <= 0.27) & (v.abs() <= 0.92)) | ((v.abs() <= 0.27) & (u.abs() <= 0.92)),
    "heart": _heart_mask,
    "crescent": lambda u, v: (u * u + v * v <= 1.0) & ((u - 0.45) ** 2 + v * v >= 0.78**2),
    "ellipse": lambda u, v: u * u + (v / 0.48) ** 2 <= 0.95**2,
    "arrow": _arrow_mask,
}
assert list(_SHAPE_MASKS) == SHAPE_NAMES


def _hsv_to_rgb(h, s, v):
    """HSV in [0, 1] -> RGB in [0, 1], elementwise over tensors of any shape; adds a last dim."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=-1)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return v[..., None] * (1 - s[..., None] * ramp)


def _seed_for(*parts) -> int:
    # Distinct, platform-independent seeds for (dataset, split, seed) combinations.
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


def make_shapes(num_images: int, *, image_size: int = 32, seed: int = 0, split: str = "train",
                supersample: int = 3) -> ImageDataset:
    """Draw `num_images` scenes: one bright, saturated shape on a dim, low-contrast clutter.

    Classes are balanced. Per image: class, object radius 17–36% of the side (the tight box
    is then roughly 30–70% of the side), rotation, position (always fully inside), object
    colour (any hue, saturation 0.55–1, value 0.8–1), and a background of a base colour plus
    stripes, soft blobs and pixel noise, all kept at value <= 0.5. The object must stand out:
    with unconstrained colours small nets sit at chance level for epochs before they learn.
    Deterministic in (seed, split, num_images, image_size); train and test use different
    random streams. Shapes are rasterised at `supersample`× resolution and averaged, which
    anti-aliases their edges.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    _check_size(image_size)
    images, labels, boxes = _draw_shapes(num_images, image_size, seed, split, supersample)
    mean, std = _shapes_stats(image_size, seed)
    return ImageDataset("shapes", images, labels, list(SHAPE_NAMES), mean, std, flip=True, boxes=boxes, split=split)


@functools.lru_cache(maxsize=8)
def _shapes_stats(side: int, seed: int):
    # Statistics of the training distribution from a 500-image sample of the train stream,
    # so every split and every num_images normalises the same way.
    return channel_stats(_draw_shapes(500, side, seed, "train", supersample=1)[0])


def _draw_shapes(n: int, side: int, seed: int, split: str, supersample: int):
    gen = torch.Generator().manual_seed(_seed_for("shapes", split, seed))

    def uniform(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen)

    labels = torch.arange(n) % len(SHAPE_NAMES)
    labels = labels[torch.randperm(n, generator=gen)]
    radius = uniform(0.17, 0.36, n)  # fraction of the side
    cx, cy = uniform(0, 1, n) * (1 - 2 * radius) + radius, uniform(0, 1, n) * (1 - 2 * radius) + radius
    theta = uniform(0, 2 * math.pi, n)
    object_rgb = _hsv_to_rgb(uniform(0, 1, n), uniform(0.55, 1, n), uniform(0.8, 1, n))  # (n, 3)
    base_rgb = _hsv_to_rgb(uniform(0, 1, n), uniform(0, 0.6, n), uniform(0.1, 0.35, n))  # (n, 3)
    stripe = dict(amp=uniform(0, 0.1, n), freq=uniform(1.5, 5, n), angle=uniform(0, math.pi, n),
                  phase=uniform(0, 2 * math.pi, n))
    blobs = dict(x=uniform(0, 1, n, 3), y=uniform(0, 1, n, 3), sigma=uniform(0.08, 0.25, n, 3),
                 rgb=uniform(-0.15, 0.15, n, 3, 3))
    noise_seed = int(torch.randint(0, 2**62, (1,), generator=gen))

    images = torch.empty(n, 3, side, side, dtype=torch.uint8)
    boxes = torch.empty(n, 4)
    centres = (torch.arange(side) + 0.5) / side  # pixel centres as fractions of the side
    fine = (torch.arange(side * supersample) + 0.5) / (side * supersample)
    noise_gen = torch.Generator().manual_seed(noise_seed)
    for start in range(0, n, 512):
        sl = slice(start, min(start + 512, n))
        m = sl.stop - sl.start
        # background: (m, 3, side, side), values in [0, 0.5]
        py, px = centres.view(1, side, 1), centres.view(1, 1, side)
        a = stripe["angle"][sl].view(m, 1, 1)
        wave = torch.sin(2 * math.pi * stripe["freq"][sl].view(m, 1, 1) * (px * torch.cos(a) + py * torch.sin(a))
                         + stripe["phase"][sl].view(m, 1, 1))
        background = base_rgb[sl].view(m, 3, 1, 1) + (stripe["amp"][sl].view(m, 1, 1) * wave)[:, None]
        for k in range(3):
            d2 = (px - blobs["x"][sl, k].view(m, 1, 1)) ** 2 + (py - blobs["y"][sl, k].view(m, 1, 1)) ** 2
            bump = torch.exp(-d2 / (2 * blobs["sigma"][sl, k].view(m, 1, 1) ** 2))  # (m, side, side)
            background = background + blobs["rgb"][sl, k].view(m, 3, 1, 1) * bump[:, None]
        background += 0.03 * torch.randn(m, 3, side, side, generator=noise_gen)
        background.clamp_(0, 0.5)

        # object coverage: rasterise at supersample× resolution, then average blocks
        dx = fine.view(1, 1, -1) - cx[sl].view(m, 1, 1)
        dy = fine.view(1, -1, 1) - cy[sl].view(m, 1, 1)
        cos, sin = torch.cos(theta[sl]).view(m, 1, 1), torch.sin(theta[sl]).view(m, 1, 1)
        r = radius[sl].view(m, 1, 1)
        u, v = (dx * cos + dy * sin) / r, (-dx * sin + dy * cos) / r  # (m, S, S) canonical frame
        inside = torch.zeros(m, side * supersample, side * supersample, dtype=torch.bool)
        chunk_labels = labels[sl]
        for c, mask_fn in enumerate(_SHAPE_MASKS.values()):
            idx = (chunk_labels == c).nonzero().squeeze(1)
            if len(idx):
                inside[idx] = mask_fn(u[idx], v[idx])
        coverage = F.avg_pool2d(inside[:, None].float(), supersample)  # (m, 1, side, side)

        colour = object_rgb[sl].view(m, 3, 1, 1) + 0.03 * torch.randn(m, 3, side, side, generator=noise_gen)
        picture = background * (1 - coverage) + colour.clamp(0, 1) * coverage
        images[sl] = (picture * 255).round_().clamp_(0, 255).to(torch.uint8)

        boxes[sl] = mask_boxes(coverage[:, 0] >= 0.5)  # tight box around the pixels at least half covered
    return images, labels, boxes


# ----------------------------------------------------------------------------------------
# torchvision datasets: MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100
# ----------------------------------------------------------------------------------------


def _torchvision_class(name: str):
    from torchvision import datasets  # imported on use: keeps `import cnnzoo` light

    return {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST,
            "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]


def expected_files(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """The files torchvision's layout puts under `root` for a dataset (what must be there)."""
    root = Path(root) if root is not None else default_data_dir()
    cls = _torchvision_class(name)
    if name in ("mnist", "fashion-mnist"):
        raw = root / cls.__name__ / "raw"
        return [raw / filename.removesuffix(".gz") for filename, _ in cls.resources]
    folder = root / cls.base_folder
    return [folder / f for f, _ in cls.train_list + cls.test_list] + [folder / cls.meta["filename"]]


def _unavailable(name: str, root: Path, reason: str) -> DatasetUnavailable:
    missing = [str(p) for p in expected_files(name, root) if not p.is_file()]
    return DatasetUnavailable(
        f"{name} is not available: {reason} Looked in the data directory {root.resolve()} "
        f"(set it with root= or the CNNZOO_DATA_DIR environment variable) for "
        f"{', '.join(missing) or 'its files'}. Put the files there in torchvision's layout, "
        f"or allow a download on a machine that is online. "
        f"The built-in datasets work offline: {OFFLINE_ALTERNATIVES}."
    )


def _online(url: str, timeout: float = 3.0) -> bool:
    # torchvision's downloader has no timeout; ask the host first so that an offline
    # classroom gets an answer in seconds, not minutes.
    host = urlparse(url).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _download(name: str, root: Path) -> None:
    from torchvision.datasets.utils import download_and_extract_archive

    cls = _torchvision_class(name)
    url = cls.mirrors[0] if name in ("mnist", "fashion-mnist") else cls.url
    if not _online(url):
        raise _unavailable(name, root, f"the files are missing and {urlparse(url).hostname} cannot be reached.")
    try:
        if name in ("mnist", "fashion-mnist"):
            cls(root, train=True, download=True)  # fetches and checks md5 of all four files
        else:  # the archive's md5 is checked before it is unpacked
            download_and_extract_archive(cls.url, str(root), filename=cls.filename, md5=cls.tgz_md5)
    except Exception as error:  # network errors come in many types; report them all the same way
        raise _unavailable(name, root, f"the download failed ({error}).") from error


def _load_torchvision(name: str, split: str, image_size: int | None, root: Path, download: bool) -> ImageDataset:
    if download and not all(p.is_file() for p in expected_files(name, root)):
        _download(name, root)
    if not all(p.is_file() for p in expected_files(name, root)):
        raise _unavailable(name, root, "its files are not there and downloading is off.")
    if name in ("mnist", "fashion-mnist"):
        try:
            tv = _torchvision_class(name)(root, train=split == "train", download=False)
            images, labels = tv.data[:, None].contiguous(), tv.targets.long()  # (N, 1, 28, 28)
        except (RuntimeError, AssertionError, ValueError, OSError) as error:
            raise ValueError(f"could not read {name} from {root.resolve()}: {error}. "
                             f"Delete the files and download them again.") from error
        class_names = list(_INFO[name]["class_names"])
    else:
        images, labels, class_names = _read_cifar(name, split, root)
    images = resize_uint8(images, image_size or _INFO[name]["size"])
    mean, std = _TORCHVISION_STATS[name]
    return ImageDataset(name, images, labels, class_names, mean, std, flip=_INFO[name]["flip"], split=split)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts, lists, numpy arrays) and nothing else: a pickle can
    run arbitrary code, and a data directory may hold files from anywhere."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")
        return super().find_class(module, name)


def _read_cifar_file(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is not a readable CIFAR batch ({error}). Delete it and download again.") from error


def _read_cifar(name: str, split: str, root: Path):
    # torchvision's CIFAR classes check every file's md5 on each load, so they can only read
    # the exact published files; this reads the same pickled batches in the same layout (the
    # md5 of the archive is checked when it is downloaded).
    cls = _torchvision_class(name)
    folder = root / cls.base_folder
    data, labels = [], []
    for filename, _md5 in cls.train_list if split == "train" else cls.test_list:
        entry = _read_cifar_file(folder / filename)
        data.append(np.asarray(entry["data"], dtype=np.uint8))
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    class_names = list(_read_cifar_file(folder / cls.meta["filename"])[cls.meta["key"]])
    images = torch.from_numpy(np.concatenate(data).reshape(-1, 3, 32, 32))  # rows are stored CHW already
    return images, torch.tensor(labels, dtype=torch.long), class_names


# ----------------------------------------------------------------------------------------
# folder: the user's own pictures, and the one image-to-tensor conversion
# ----------------------------------------------------------------------------------------


def load_image(image, channels: int = 3, size: int | None = 32, *, fit: str = "crop") -> torch.Tensor:
    """Any picture -> uint8 tensor (channels, size, size). The one conversion for folders and uploads.

    `image` is a path, bytes, a file object, a PIL image or a numpy array (H, W[, C]).
    EXIF rotation is applied; transparency (RGBA, LA, palette) is composited on white;
    16-bit and float greyscale is scaled to 0..255; CMYK, palette and the rest are converted.
    fit="crop" resizes the short side to `size` and cuts the centre square (no distortion);
    fit="squash" resizes the whole picture to a square. size=None keeps the picture's size.
    Unreadable, truncated or absurdly large pictures raise ValueError.
    """
    from PIL import Image, ImageOps

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if fit not in ("crop", "squash"):
        raise ValueError(f"fit must be 'crop' or 'squash', got {fit!r}")
    if size is not None:
        _check_size(size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            img = _open_image(image, Image)
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ValueError(f"the image is {img.width}×{img.height} pixels; the limit is "
                                 f"{MAX_IMAGE_PIXELS // 1_000_000} million. Resize it first.")
            if size is not None and img.format == "JPEG":
                img.draft("RGB" if channels == 3 else "L", (size * 2, size * 2))  # decode big JPEGs at reduced scale
            img.load()
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # a broken EXIF block should not cost the picture
                pass
            img = _to_mode(img, channels, Image)
            if size is not None:
                img = _fit(img, size, fit, Image)
    except ValueError:
        raise
    except (OSError, SyntaxError, Image.DecompressionBombError, EOFError) as error:
        raise ValueError(f"could not read the image ({error}); use a PNG, JPEG, GIF, BMP, TIFF or WebP file") from error
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)


def _open_image(image, Image):
    if isinstance(image, Image.Image):
        return image.copy()
    if isinstance(image, np.ndarray):
        return _from_array(image, Image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return Image.open(io.BytesIO(bytes(image)))
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"no image file at {path}")
        return Image.open(path)
    if hasattr(image, "read"):
        return Image.open(image)
    raise ValueError(f"cannot read an image from a {type(image).__name__}")


def _from_array(array: np.ndarray, Image):
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            array = np.clip(array * 255 if array.max() <= 1 else array, 0, 255)
        else:
            array = array / 257 if array.max() > 255 else array
        array = np.asarray(array).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _to_mode(img, channels: int, Image):
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit or 32-bit greyscale: PIL's convert("L") would clip everything above 255 to white.
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        if img.mode == "F" and values.max() <= 1:
            top = 1.0
        img = Image.fromarray(np.clip(values / top * 255, 0, 255).round().astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB" if channels == 3 else "L")


def _fit(img, size: int, fit: str, Image):
    if fit == "squash":
        return img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    w, h = img.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=3.0)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return img.crop((left, top, left + size, top + size))


_IGNORED = ("__MACOSX", "Thumbs.db", "desktop.ini")


def _ignored(parts) -> bool:
    return any(p.startswith(".") or p in _IGNORED for p in parts)


class _FolderSource:
    """The files of a directory or a zip as [(relative path parts, size in bytes)], readable by index.

    Zip member names are checked before anything is read: an absolute path or a '..' would
    point outside the archive (the "zip slip" attack), so such a zip is refused whole.
    """

    def __init__(self, path: Path):
        self.path, self.archive = path, None
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            self.entries = [(p.relative_to(path).parts, p.stat().st_size, p) for p in files]
        elif path.is_file() and zipfile.is_zipfile(path):
            self.archive = zipfile.ZipFile(path)
            members = [m for m in self.archive.infolist() if not m.is_dir()]
            for m in members:
                name = m.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                    self.close()
                    raise ValueError(f"the zip holds a path that points outside it ({m.filename!r}); "
                                     f"it is refused. Zip the class folders themselves.")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                self.close()
                raise ValueError(f"the zip would unpack to more than {MAX_ZIP_BYTES // 1024**3} GB; "
                                 f"use fewer or smaller images")
            self.entries = sorted(((PurePosixPath(m.filename.replace("\\", "/")).parts, m.file_size, m)
                                   for m in members), key=lambda entry: entry[0])
        else:
            raise ValueError(f"{path} is neither a folder nor a .zip file")
        self.entries = [e for e in self.entries if not _ignored(e[0])]

    def read(self, item):
        return item if isinstance(item, Path) else self.archive.read(item)

    def signature(self) -> tuple:
        """Changes when any file is added, removed or rewritten: the cache key of a folder."""
        if self.archive is not None:
            stat = self.path.stat()
            return (stat.st_mtime_ns, stat.st_size)
        return tuple((parts, size, item.stat().st_mtime_ns) for parts, size, item in self.entries)

    def close(self):
        if self.archive is not None:
            self.archive.close()


MAX_FILE_BYTES = 64 * 1024**2  # a bigger "picture" in a class folder is skipped, not decoded

_folder_cache: dict[tuple, tuple] = {}
_folder_lock = threading.Lock()


def _load_folder(path, split: str, image_size: int, channels: int, seed: int) -> ImageDataset:
    """A folder (or zip) with one sub-folder per class; optional train/ and test/ levels.

    Without train/ and test/ sub-folders, a stratified 20% of each class (chosen by `seed`)
    is the test split.
    """
    if path is None:
        raise ValueError("the 'folder' dataset needs path= (a folder with one sub-folder per class, or a .zip)")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    source = _FolderSource(path)
    try:
        key = (str(path.resolve()), source.signature(), image_size, channels)
        with _folder_lock:
            if key not in _folder_cache:
                _folder_cache.clear()  # one folder at a time: these are the user's own, often big
                _folder_cache[key] = _decode_folder(source, image_size, channels)
            images, labels, class_names, is_test, skipped = _folder_cache[key]
    finally:
        source.close()

    if is_test is None:  # no train/ and test/ folders: hold out a stratified 20%
        is_test = torch.zeros(len(labels), dtype=torch.bool)
        is_test[stratified_order(labels, seed)[: round(0.2 * len(labels))]] = True
    mean, std = channel_stats(images[~is_test])
    keep = is_test if split == "test" else ~is_test
    return ImageDataset("folder", images[keep], labels[keep], class_names, mean, std, flip=True,
                        split=split, skipped=list(skipped))


def _decode_folder(source: _FolderSource, image_size: int, channels: int):
    entries, where = [(parts, (size, item)) for parts, size, item in source.entries], str(source.path)
    # A zip of a folder usually holds one top-level directory: look inside it.
    while entries and all(len(parts) > 2 for parts, _ in entries) and len({p[0] for p, _ in entries}) == 1:
        entries = [(parts[1:], r) for parts, r in entries]
    tops = {parts[0] for parts, _ in entries if len(parts) > 1}
    has_splits = {"train", "test"} <= tops
    class_level = 1 if has_splits else 0
    files = [(parts, r) for parts, r in entries if len(parts) > class_level + 1
             and (not has_splits or parts[0] in ("train", "test"))]
    class_names = sorted({parts[class_level] for parts, _ in files})
    if len(class_names) < 2:
        found = f"only the class {class_names[0]!r}" if class_names else "no class sub-folders with files"
        raise ValueError(f"{where}: found {found}. A folder dataset needs at least two sub-folders, "
                         f"one per class, each holding that class's pictures (e.g. cats/, dogs/).")
    if len(files) > MAX_FOLDER_IMAGES:
        raise ValueError(f"{where} holds {len(files):,} files; the limit is {MAX_FOLDER_IMAGES:,}. Use a subset.")
    index = {c: i for i, c in enumerate(class_names)}
    images, labels, test_flags, skipped = [], [], [], []
    for parts, (size, item) in files:
        try:
            if size > MAX_FILE_BYTES:
                raise ValueError(f"{size:,} bytes is over the limit of {MAX_FILE_BYTES:,} per file")
            images.append(load_image(source.read(item), channels, image_size))
        except ValueError as error:
            skipped.append(f"{'/'.join(parts)}: {error}")
            continue
        labels.append(index[parts[class_level]])
        test_flags.append(has_splits and parts[0] == "test")
    if len(images) == 0:
        raise ValueError(f"{where}: none of its {len(files)} files could be read as an image.")
    labels = torch.tensor(labels, dtype=torch.long)
    empty = [c for i, c in enumerate(class_names) if not (labels == i).any()]
    if empty:
        raise ValueError(f"{where}: the class folder(s) {', '.join(empty)} hold no readable image.")
    is_test = torch.tensor(test_flags) if has_splits else None
    return torch.stack(images), labels, class_names, is_test, skipped


# ----------------------------------------------------------------------------------------
# Batches: normalisation and augmentation on the training device
# ----------------------------------------------------------------------------------------


def augment_batch(x: torch.Tensor, *, pad: int = 4, flip: bool = True, generator: torch.Generator | None = None,
                  padding_mode: str = "zeros") -> torch.Tensor:
    """Random pad-and-crop and random horizontal flip for a whole batch (N, C, H, W) at once.

    Equivalent to torchvision's RandomCrop(size, padding=pad) + RandomHorizontalFlip() per
    image: each image is shifted by (dy, dx) in [−pad, pad]² and, with probability 1/2,
    mirrored. Instead of padding and cropping, every output pixel reads its source pixel
    directly: out[n, :, i, j] = x[n, :, i + dy_n, j' + dx_n] with j' = W−1−j when flipped;
    sources outside the image are 0 ("zeros", the CIFAR recipe; apply it to uint8 images,
    where 0 is black) or mirrored ("reflect"). One gather, on x's device, any dtype.
    Random numbers come from `generator` (on its device, CPU by default), so a seed gives
    the same augmentation on CPU and GPU.
    """
    if padding_mode not in ("zeros", "reflect"):
        raise ValueError(f"padding_mode must be 'zeros' or 'reflect', got {padding_mode!r}")
    n, c, h, w = x.shape
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0 or (padding_mode == "reflect" and pad >= min(h, w)):
        raise ValueError(f"pad must be an integer from 0 to {min(h, w) - 1}, got {pad!r}")
    if (pad == 0 and not flip) or n == 0:
        return x
    gen_device = generator.device if generator is not None else torch.device("cpu")
    shift = torch.randint(-pad, pad + 1, (2, n), generator=generator, device=gen_device).to(x.device)
    dy, dx = shift[0].view(n, 1), shift[1].view(n, 1)
    cols = torch.arange(w, device=x.device).expand(n, w)
    if flip:
        flipped = (torch.rand(n, generator=generator, device=gen_device) < 0.5).to(x.device).view(n, 1)
        cols = torch.where(flipped, w - 1 - cols, cols)
    rows = torch.arange(h, device=x.device).view(1, h) + dy  # (N, H) source rows
    cols = cols + dx  # (N, W) source columns
    if padding_mode == "reflect":
        rows, cols = _reflect(rows, h), _reflect(cols, w)
        inside = None
    else:
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (N, H, W)
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    source = (rows[:, :, None] * w + cols[:, None, :]).view(n, 1, h * w).expand(n, c, h * w)
    out = x.reshape(n, c, h * w).gather(2, source).view(n, c, h, w)
    if inside is not None:
        out = out * inside[:, None]  # zero padding; a multiply is ~10× faster than masked_fill here
    return out


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    # −1 -> 1, size -> size − 2: mirror without repeating the edge pixel (numpy's "reflect").
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


_device_copies: dict[int, dict[str, torch.Tensor]] = {}  # id(original) -> {device: copy}
_device_lock = threading.Lock()


def on_device(tensor: torch.Tensor, device) -> torch.Tensor:
    """The tensor on `device`, copied there once and kept while the original lives."""
    device = torch.device(device)
    if tensor.device == device or (device.type == tensor.device.type and device.index is None):
        return tensor
    with _device_lock:
        copies = _device_copies.get(id(tensor))
        if copies is None:
            # Keyed by id, not by the tensor (a dict would compare tensors elementwise);
            # the entry goes when the original is garbage-collected.
            copies = _device_copies[id(tensor)] = {}
            weakref.finalize(tensor, _device_copies.pop, id(tensor), None)
        if str(device) not in copies:
            copies[str(device)] = tensor.to(device)
        return copies[str(device)]


def batches(ds: ImageDataset, batch_size: int, *, shuffle: bool, device="cpu", augment: bool = False,
            generator: torch.Generator | None = None, drop_last: bool = False, pad: int | None = None,
            padding_mode: str = "zeros", mean=None, std=None):
    """Yield (x, y) on `device`: x float32 normalised (B, C, H, W), y int64 (B,).

    The uint8 images move to the device once (see on_device); each batch is an index into
    them. augment=True applies augment_batch with `pad` (default ds.augment_pad) and a flip
    when the dataset allows one. mean/std override the dataset's (e.g. 0.5, 0.5 for a GAN's
    [−1, 1] range). `generator` drives the shuffle and the augmentation.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = torch.device(device)
    images, labels = on_device(ds.images, device), on_device(ds.labels, device)
    mean = ds.mean if mean is None else mean
    std = ds.std if std is None else std
    pad = ds.augment_pad if pad is None else pad
    n = len(ds)
    gen_device = generator.device if generator is not None else "cpu"
    order = torch.randperm(n, generator=generator, device=gen_device).to(device) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            x, y = images[start:start + batch_size], labels[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            x, y = images[idx], labels[idx]
        if augment:
            x = augment_batch(x, pad=pad, flip=ds.flip, generator=generator, padding_mode=padding_mode)
        yield normalize(x, mean, std), y
