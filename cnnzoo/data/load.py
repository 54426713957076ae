"""load_dataset: any dataset by name, loaded once per process and shared.

Thirty students asking for the same split at once wait for a single load (cnnzoo.cache);
each gets their own shallow copy of the ImageDataset around the shared tensors.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable

from cnnzoo.cache import KeyedCache
from cnnzoo.data.dataset import (
    INFO,
    TORCHVISION_STATS,
    ImageDataset,
    check_name,
    check_size,
    check_split,
    default_data_dir,
    stratified_subset,
)
from cnnzoo.data.digits import load_digits
from cnnzoo.data.images import load_folder
from cnnzoo.data.mnist_cifar import load_torchvision
from cnnzoo.data.shapes import make_shapes

# CIFAR-10 at 32×32 is 150 MB, at 64×64 600 MB: keep a few datasets, not every variant ever asked for.
CACHE_BYTES = 1_500_000_000
# The byte budget bounds the memory; the entry count only stops tiny variants (digits at every
# size and subset) from piling up.
_datasets: KeyedCache[ImageDataset] = KeyedCache(max_entries=32, max_bytes=CACHE_BYTES,
                                                 size=lambda ds: ds.images.nbytes)


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
    check_name(name)
    check_split(split)
    if image_size is not None:
        check_size(image_size)
    if num_images is not None and (isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1):
        raise ValueError(f"num_images must be a positive integer or None, got {num_images!r}")
    if name != "folder" and (path is not None or channels is not None):
        raise ValueError("path= and channels= are options of the 'folder' dataset only")

    if name == "folder":  # cached per folder inside load_folder, before the split and subset
        ds = load_folder(path, split, image_size or 32, channels or 3, seed)
        return stratified_subset(ds, num_images, seed)
    key, load = _key_and_loader(name, split, image_size, root, download, seed, num_images)
    shared = _datasets.get(key, load)
    # A shallow copy: callers may reassign fields without affecting the cache.
    return replace(shared, class_names=list(shared.class_names), skipped=list(shared.skipped))


def _key_and_loader(name: str, split: str, image_size: int | None, root, download: bool | None,
                    seed: int, num_images: int | None) -> tuple[tuple, Callable[[], ImageDataset]]:
    """The cache key of a load (what makes two loads the same) and the function that does it."""
    subset_seed = seed if num_images else 0  # the seed only picks the subset
    if name in TORCHVISION_STATS:
        root = Path(root) if root is not None else default_data_dir()
        if download is None:
            download = not os.environ.get("CNNZOO_OFFLINE")
        key = (name, split, image_size, str(root.resolve()), subset_seed, num_images)
        return key, lambda: stratified_subset(load_torchvision(name, split, image_size, root, download),
                                              num_images, seed)
    if name == "digits":
        key = (name, split, image_size, subset_seed, num_images)
        return key, lambda: stratified_subset(load_digits(split, image_size), num_images, seed)
    n = num_images or INFO["shapes"][f"{split}_size"]  # shapes: drawn, not subsampled
    key = (name, split, image_size, seed, num_images)
    return key, lambda: make_shapes(n, image_size=image_size or 32, seed=seed, split=split)
