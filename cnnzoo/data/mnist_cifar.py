"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 in torchvision's on-disk layout.

The files live in a data directory (root=, else $CNNZOO_DATA_DIR, else ./data) exactly where
torchvision's own dataset classes put them, so a directory torchvision filled works here and
the other way round. A missing dataset is downloaded when the machine is online (asked
first, with a timeout); otherwise DatasetUnavailable says which files should be where and
names the offline datasets.
"""
from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from cnnzoo.compute import resize_uint8
from cnnzoo.data.dataset import (
    INFO,
    OFFLINE_ALTERNATIVES,
    TORCHVISION_STATS,
    DatasetUnavailable,
    ImageDataset,
    default_data_dir,
)


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
    from torchvision.datasets.utils import download_and_extract_archive  # on use, as _torchvision_class

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


def load_torchvision(name: str, split: str, image_size: int | None, root: Path, download: bool) -> ImageDataset:
    """One split from `root`, downloaded first when allowed and missing, resized once to image_size."""
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
        class_names = list(INFO[name]["class_names"])
    else:
        images, labels, class_names = _read_cifar(name, split, root)
    images = resize_uint8(images, image_size or INFO[name]["size"])
    mean, std = TORCHVISION_STATS[name]
    return ImageDataset(name, images, labels, class_names, mean, std, flip=INFO[name]["flip"], split=split)


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
