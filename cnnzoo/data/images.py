"""A user's pictures: load_image, the one image-to-tensor conversion for uploads and folders,
and the `folder` dataset (a directory or a .zip with one sub-folder per class).
"""
from __future__ import annotations

import io
import os
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from cnnzoo.cache import KeyedCache
from cnnzoo.data.dataset import ImageDataset, channel_stats, check_size, stratified_order

# load_image refuses larger pictures instead of decoding gigabytes (a 10,000 × 10,000 photo
# is 100 M pixels and still loads).
MAX_IMAGE_PIXELS = 120_000_000
# A user's folder: images are decoded one by one with PIL, so the cap keeps a load in
# the tens of seconds on a laptop, and a zip cannot unpack into more than this.
MAX_FOLDER_IMAGES = 20_000
MAX_ZIP_BYTES = 2 * 1024**3
MAX_FILE_BYTES = 64 * 1024**2  # a bigger "picture" in a class folder is skipped, not decoded


# ----------------------------------------------------------------------------------------
# One picture
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
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if fit not in ("crop", "squash"):
        raise ValueError(f"fit must be 'crop' or 'squash', got {fit!r}")
    if size is not None:
        check_size(size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            img = _open_image(image)
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
            img = _to_mode(img, channels)
            if size is not None:
                img = _fit(img, size, fit)
    except ValueError:
        raise
    except (OSError, SyntaxError, Image.DecompressionBombError, EOFError) as error:
        raise ValueError(f"could not read the image ({error}); use a PNG, JPEG, GIF, BMP, TIFF or WebP file") from error
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)


def _open_image(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.copy()
    if isinstance(image, np.ndarray):
        return _from_array(image)
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


def _from_array(array: np.ndarray) -> Image.Image:
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


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
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


def _fit(img: Image.Image, size: int, fit: str) -> Image.Image:
    """A size × size picture: the centre square resized ("crop") or the whole picture ("squash").

    ImageOps.fit resamples exactly, without resize's reducing_gap shortcut; that costs more
    only on big pictures that are already decoded at full size, where decoding costs more
    still (JPEGs arrive reduced by draft()).
    """
    if fit == "squash":
        return img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return ImageOps.fit(img, (size, size), Image.Resampling.BICUBIC)


# ----------------------------------------------------------------------------------------
# A folder (or zip) of pictures, one sub-folder per class
# ----------------------------------------------------------------------------------------

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


# One folder at a time: these are the user's own pictures, often many and big.
_folders: KeyedCache[tuple] = KeyedCache(max_entries=1)


def load_folder(path, split: str, image_size: int, channels: int, seed: int) -> ImageDataset:
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
        if key not in _folders:
            _folders.clear()  # free the last folder before decoding another, not after
        decoded = _folders.get(key, lambda: _decode_folder(source, image_size, channels))
        images, labels, class_names, is_test, skipped = decoded
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
