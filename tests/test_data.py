"""Datasets as resident tensors, batched augmentation, torchvision files, user folders."""
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import cnnzoo.data as data
from cnnzoo.data import (
    DatasetUnavailable,
    augment_batch,
    dataset_info,
    dataset_names,
    load_dataset,
    load_image,
    make_shapes,
    normalize,
    split_validation,
)
from cnnzoo.data import images as data_images
from cnnzoo.data import mnist_cifar


# ---------------------------------------------------------------------------- catalogue


def test_the_package_exports_what_callers_import():
    assert all(hasattr(data, name) for name in data.__all__)
    used_elsewhere = {"ImageDataset", "load_dataset", "dataset_info", "dataset_names", "load_image", "normalize",
                      "augment_batch", "split_validation", "stratified_order", "SHAPE_NAMES", "DatasetUnavailable"}
    assert used_elsewhere <= set(data.__all__)


def test_names_and_info_are_cheap_and_complete():
    assert dataset_names() == ["digits", "shapes", "mnist", "fashion-mnist", "cifar10", "cifar100", "folder"]
    info = dataset_info("digits")
    assert (info["channels"], info["size"], info["num_classes"], info["offline"]) == (1, 8, 10, True)
    assert dataset_info("cifar10")["offline"] is False and dataset_info("cifar100")["num_classes"] == 100
    assert dataset_info("shapes")["class_names"][:3] == ["circle", "ring", "square"]
    with pytest.raises(ValueError, match="Unknown dataset 'imagenet'.*digits, shapes"):
        dataset_info("imagenet")
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("digits", "val")
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=0)


# ---------------------------------------------------------------------------- digits


def test_digits_fixed_stratified_split_and_shared_statistics():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.images.shape[1:] == (1, 8, 8) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.flip is False
    assert train.images.max() == 255 and train.images.min() == 0  # 0..16 ink counts scaled to 0..255
    assert torch.bincount(test.labels).tolist() == [36, 37, 35, 37, 36, 36, 36, 36, 35, 36]
    assert train.mean == test.mean and train.std == test.std  # test uses the training statistics
    assert train.mean[0] == pytest.approx(train.images.float().div(255).mean().item(), abs=1e-3)
    # no image is in both splits (the digits contain no exact duplicates across the split)
    train_set = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in train_set for x in test.images)
    assert train.meta() == {"dataset": "digits", "class_names": [str(d) for d in range(10)],
                            "mean": list(train.mean), "std": list(train.std), "input_size": [1, 8, 8]}


def test_digits_upsampled_once_at_load():
    big = load_dataset("digits", "test", image_size=32)
    small = load_dataset("digits", "test")
    assert big.images.shape == (360, 1, 32, 32) and big.augment_pad == 4 and small.augment_pad == 1
    # bilinear upsampling keeps the picture: averaging 4×4 blocks gives back a blurred 8×8 image
    pooled = F.avg_pool2d(big.images.float(), 4).flatten()
    assert torch.corrcoef(torch.stack([pooled, small.images.float().flatten()]))[0, 1] > 0.95


def test_loads_are_cached_but_callers_get_their_own_object():
    a, b = load_dataset("digits", "train"), load_dataset("digits", "train")
    assert a is not b and a.images is b.images
    a.class_names.append("x")
    assert len(load_dataset("digits", "train").class_names) == 10


def test_num_images_is_a_stratified_deterministic_subset():
    sub = load_dataset("digits", "train", num_images=100, seed=3)
    assert len(sub) == 100 and torch.bincount(sub.labels).tolist() == [10] * 10
    again = load_dataset("digits", "train", num_images=100, seed=3)
    assert torch.equal(sub.images, again.images)
    other = load_dataset("digits", "train", num_images=100, seed=4)
    assert not torch.equal(sub.images, other.images)
    full = load_dataset("digits", "train")
    assert data.stratified_subset(full, None) is full and data.stratified_subset(full, 5000) is full
    assert torch.equal(data.stratified_subset(full, 100, seed=3).images, sub.images)


def test_split_validation_is_stratified_disjoint_and_deterministic():
    ds = load_dataset("digits", "train")
    ds.images = ds.images.clone()
    ds.images[:, 0, 0, 0] = torch.arange(len(ds)) % 256  # tag images to trace them
    ds.images[:, 0, 0, 1] = torch.arange(len(ds)) // 256
    train, val = split_validation(ds, 0.1, seed=0)
    assert (len(train), len(val)) == (1293, 144) and val.split == "validation"
    tags = lambda d: set((d.images[:, 0, 0, 0].long() + 256 * d.images[:, 0, 0, 1].long()).tolist())  # noqa: E731
    assert tags(train).isdisjoint(tags(val)) and tags(train) | tags(val) == set(range(len(ds)))
    counts = torch.bincount(val.labels, minlength=10)
    assert counts.min() >= 14 and counts.max() <= 15
    assert torch.equal(split_validation(ds, 0.1, seed=0)[1].labels, val.labels)
    assert val.mean == ds.mean
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_validation(ds, 1.5)


# ---------------------------------------------------------------------------- shapes


def test_shapes_are_deterministic_balanced_and_splits_differ():
    a = make_shapes(200, seed=0, split="train")
    b = make_shapes(200, seed=0, split="train")
    c = make_shapes(200, seed=0, split="test")
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (200, 3, 32, 32) and a.boxes.shape == (200, 4)
    assert torch.bincount(a.labels).tolist() == [20] * 10
    assert a.mean == c.mean and a.class_names == data.SHAPE_NAMES and a.flip is True


def test_shape_boxes_are_tight_and_the_object_stands_out():
    ds = make_shapes(300, seed=0)
    x0, y0, x1, y1 = ds.boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= 32).all() and (y1 <= 32).all()
    side = torch.maximum(x1 - x0, y1 - y0) / 32
    assert side.min() >= 0.15 and side.max() <= 0.75 and 0.35 < side.mean() < 0.55
    bright = ds.images.amax(1) >= 0.8 * 255  # (N, H, W): only object pixels get this bright
    rows, cols = torch.arange(32).view(1, 32, 1), torch.arange(32).view(1, 1, 32)
    x0_, y0_, x1_, y1_ = (v.view(-1, 1, 1) for v in (x0, y0, x1, y1))
    in_box = (cols >= x0_) & (cols < x1_) & (rows >= y0_) & (rows < y1_)
    assert not (bright & ~in_box).any()
    # ...and the box is not loose: the bright pixels reach within 1 pixel of every side
    # (thin, dim tips can miss the brightness threshold, so most images, not all)
    tight = 0
    for i in range(len(ds)):
        ys, xs = bright[i].nonzero(as_tuple=True)
        edges = torch.stack([xs.min() - x0[i], x1[i] - 1 - xs.max(), ys.min() - y0[i], y1[i] - 1 - ys.max()])
        assert (edges >= 0).all()
        tight += bool((edges <= 1).all())
    assert tight >= 0.9 * len(ds)


def test_shapes_at_64_are_the_same_scenes_drawn_finer():
    small, big = make_shapes(50, seed=0), make_shapes(50, image_size=64, seed=0)
    assert big.images.shape == (50, 3, 64, 64) and torch.equal(small.labels, big.labels)
    assert (big.boxes / 2 - small.boxes).abs().max() <= 1.5  # half-covered pixels differ by scale


def test_shapes_through_load_dataset_default_sizes():
    test = load_dataset("shapes", "test", num_images=100)
    assert len(test) == 100 and test.boxes is not None
    assert dataset_info("shapes")["train_size"] == 10_000
    sub = test.subset([3, 5])
    assert torch.equal(sub.boxes, test.boxes[[3, 5]])
    circles = test.subset(test.labels == 0)
    assert len(circles) == 10 and (circles.labels == 0).all() and len(test.subset([])) == 0


# ---------------------------------------------------------------------------- augmentation


def test_normalize_is_x_over_255_minus_mean_over_std():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(2, 2, 1, 3)
    out = normalize(x, (0.2, 0.5), (0.5, 0.25))
    assert out.dtype == torch.float32 and out.shape == (2, 2, 1, 3)
    assert torch.allclose(out[0, 0, 0], torch.tensor([-0.4, 0.0, 1.6]), atol=1e-6)
    assert torch.allclose(out[0, 1, 0], torch.tensor([-2.0, -1.2, 2.0]), atol=1e-6)


def reference_augment(x, pad, flip, seed, padding_mode):
    """torchvision's pad -> crop -> flip, one image at a time, with the same random draws."""
    g = torch.Generator().manual_seed(seed)
    n, _, h, w = x.shape
    shift = torch.randint(-pad, pad + 1, (2, n), generator=g)
    flips = torch.rand(n, generator=g) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    mode = "constant" if padding_mode == "zeros" else "reflect"
    out = []
    for i in range(n):
        padded = F.pad(x[i:i + 1].float(), (pad,) * 4, mode=mode)[0]
        top, left = pad + int(shift[0, i]), pad + int(shift[1, i])
        crop = padded[:, top:top + h, left:left + w]
        out.append(crop.flip(-1) if flips[i] else crop)
    return torch.stack(out).to(x.dtype)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
@pytest.mark.parametrize("flip", [True, False])
def test_augment_batch_equals_per_image_pad_crop_flip(padding_mode, flip):
    x = torch.randint(0, 256, (64, 3, 8, 10), dtype=torch.uint8)
    got = augment_batch(x, pad=3, flip=flip, generator=torch.Generator().manual_seed(7), padding_mode=padding_mode)
    assert got.dtype == torch.uint8 and got.shape == x.shape
    assert torch.equal(got, reference_augment(x, 3, flip, 7, padding_mode))
    assert not torch.equal(got, x)


def test_augment_batch_edge_cases():
    x = torch.randint(0, 256, (4, 1, 6, 6), dtype=torch.uint8)
    assert augment_batch(x, pad=0, flip=False) is x
    flipped = augment_batch(x, pad=0, flip=True, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(f, o) or torch.equal(f, o.flip(-1)) for f, o in zip(flipped, x))
    floats = augment_batch(x.float(), pad=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(floats, augment_batch(x, pad=2, generator=torch.Generator().manual_seed(0)).float())
    with pytest.raises(ValueError, match="pad must be"):
        augment_batch(x, pad=6, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        augment_batch(x, padding_mode="wrap")


# ---------------------------------------------------------------------------- torchvision formats


def write_idx(path, array: np.ndarray):
    """MNIST's idx format: magic 0x00 0x00 0x08 ndim, big-endian int32 dims, then uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fake_mnist(root, folder="MNIST", n_train=30, n_test=20):
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


def write_fake_cifar(root, hundred=False, per_batch=6):
    rng = np.random.default_rng(0)
    if hundred:
        folder, files, label_key = root / "cifar-100-python", {"train": 1, "test": 1}, "fine_labels"
        meta_name, meta = "meta", {"fine_label_names": [f"class{i}" for i in range(100)],
                                   "coarse_label_names": [f"super{i}" for i in range(20)]}
    else:
        folder, label_key = root / "cifar-10-batches-py", "labels"
        files = {f"data_batch_{i}": 1 for i in range(1, 6)} | {"test_batch": 1}
        meta_name, meta = "batches.meta", {"label_names": data.CIFAR10_NAMES, "num_vis": 3072}
    folder.mkdir(parents=True)
    for name in files:
        batch = {"batch_label": name, "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 label_key: [int(v) for v in rng.integers(0, 100 if hundred else 10, per_batch)],
                 "filenames": [f"img{i}.png" for i in range(per_batch)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    with open(folder / meta_name, "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return folder


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_formats_load_through_torchvision(tmp_path, name, folder):
    write_fake_mnist(tmp_path, folder)
    train = load_dataset(name, "train", root=tmp_path, download=False)
    test = load_dataset(name, "test", root=tmp_path, download=False, image_size=32)
    assert train.images.shape == (30, 1, 28, 28) and test.images.shape == (20, 1, 32, 32)
    raw = np.frombuffer((tmp_path / folder / "raw" / "train-images-idx3-ubyte").read_bytes()[16:], np.uint8)
    assert torch.equal(train.images.flatten(), torch.from_numpy(raw.copy()))
    assert train.labels.tolist() == [i % 10 for i in range(30)]
    assert train.num_classes == 10 and train.mean == test.mean
    assert train.flip is (name == "fashion-mnist")


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_pickled_batches_load(tmp_path, hundred):
    folder = write_fake_cifar(tmp_path, hundred)
    name = "cifar100" if hundred else "cifar10"
    train = load_dataset(name, "train", root=tmp_path, download=False)
    test = load_dataset(name, "test", root=tmp_path, download=False, image_size=16)
    assert train.images.shape == ((6 if hundred else 30), 3, 32, 32) and test.images.shape == (6, 3, 16, 16)
    with open(folder / ("test" if hundred else "test_batch"), "rb") as f:
        raw = pickle.load(f)
    full = load_dataset(name, "test", root=tmp_path, download=False)
    assert torch.equal(full.images.reshape(6, -1), torch.from_numpy(raw["data"]))  # rows are CHW
    assert full.labels.tolist() == raw["fine_labels" if hundred else "labels"]
    assert train.class_names[:2] == (["class0", "class1"] if hundred else ["airplane", "automobile"])


def test_a_malicious_pickle_in_the_data_directory_is_refused(tmp_path):
    folder = write_fake_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(ValueError, match="not a readable CIFAR batch.*refusing to load"):
        load_dataset("cifar10", "test", root=tmp_path, download=False)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10", "cifar100"])
def test_missing_dataset_names_directory_files_and_offline_alternatives(tmp_path, name):
    with pytest.raises(DatasetUnavailable) as info:
        load_dataset(name, root=tmp_path / "nothing", download=False)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str((tmp_path / "nothing").resolve()) in message
    expected = "train-images-idx3-ubyte" if "mnist" in name else ("data_batch_1" if name == "cifar10" else "train")
    assert expected in message and "CNNZOO_DATA_DIR" in message
    assert "digits" in message and "shapes" in message


def test_offline_machine_with_download_allowed_is_unavailable_not_stuck(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_cifar, "_online", lambda url, timeout=3.0: False)  # no test touches the network
    with pytest.raises(DatasetUnavailable, match="cannot be reached"):
        load_dataset("cifar10", root=tmp_path, download=True)


def test_data_directory_from_the_environment(tmp_path, monkeypatch):
    write_fake_mnist(tmp_path / "env")
    monkeypatch.setenv("CNNZOO_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("CNNZOO_OFFLINE", "1")
    assert len(load_dataset("mnist", "test")) == 20


# ---------------------------------------------------------------------------- images and folders


def png_bytes(image: Image.Image, fmt="PNG", **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def test_load_image_handles_modes_alpha_16_bit_and_exif():
    grey16 = Image.fromarray(np.full((4, 4), 32768, np.uint16))  # mode I;16, mid grey
    assert load_image(png_bytes(grey16), channels=1, size=4).unique().tolist() == [128]
    transparent = Image.new("RGBA", (5, 5), (255, 0, 0, 0))
    assert load_image(transparent, 3, 5).unique().tolist() == [255]  # composited on white
    half = load_image(Image.new("RGBA", (5, 5), (0, 0, 0, 128)), 3, 5)
    assert half.unique().tolist() == [127]
    palette = Image.new("P", (6, 6))
    palette.putpalette([0, 0, 255] + [0] * 765)
    assert load_image(palette, 3, 6)[:, 0, 0].tolist() == [0, 0, 255]
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # red in CMYK
    assert load_image(png_bytes(cmyk, "JPEG"), 3, 4)[:, 0, 0].tolist()[0] > 200
    assert load_image(Image.new("L", (1, 1), 200), 3, 8).shape == (3, 8, 8)  # 1×1 works
    assert load_image(np.zeros((3, 5), np.float32), 1, None).shape == (1, 3, 5)

    # EXIF orientation 6 ("rotate 90° clockwise to display"): a wide JPEG becomes tall.
    wide = Image.new("RGB", (40, 20), "white")
    wide.paste((0, 0, 0), (0, 0, 20, 20))  # left half black
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = load_image(png_bytes(wide, "JPEG", exif=exif), 1, None)
    assert upright.shape == (1, 40, 20)
    assert upright[0, :15].float().mean() < 60 and upright[0, 25:].float().mean() > 200  # black on top


def test_load_image_crop_and_squash():
    picture = Image.new("RGB", (60, 20), "black")
    picture.paste((255, 255, 255), (20, 0, 40, 20))  # white middle third
    assert load_image(picture, 1, 10).float().mean() > 250  # crop keeps the centre square
    assert abs(load_image(picture, 1, 9, fit="squash").float().mean() - 85) < 10
    # the crop is the exact centre: a mirror-symmetric picture stays symmetric at any size
    half = np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)
    mirrored = np.concatenate([half, half[:, ::-1]], 1)  # (37, 90, 3)
    for size in (8, 13, 32):
        crop = load_image(mirrored, 3, size)
        assert torch.equal(crop, crop.flip(-1))


def test_load_image_refuses_garbage_truncated_and_huge(monkeypatch):
    with pytest.raises(ValueError, match="could not read the image"):
        load_image(b"this is not an image")
    jpeg = png_bytes(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")
    with pytest.raises(ValueError, match="could not read the image"):
        load_image(jpeg[: len(jpeg) // 2])
    monkeypatch.setattr(data_images, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="40×40 pixels; the limit"):
        load_image(Image.new("RGB", (40, 40)))
    with pytest.raises(ValueError, match="channels"):
        load_image(Image.new("RGB", (4, 4)), channels=2)


def make_folder(root, classes=("cat", "dog"), per_class=5, size=(12, 10)):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", size, (40 * c, 10 * i, 200)).save(root / name / f"{i}.png")
    return root


def test_folder_dataset_with_odd_files_and_a_default_split(tmp_path):
    root = make_folder(tmp_path / "pets")
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(root / "cat" / "alpha.png")
    Image.new("I;16", (8, 8)).save(root / "dog" / "deep.png")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "dog" / "notes.txt").write_text("hello")
    (root / ".DS_Store").write_text("ignored")
    train = load_dataset("folder", "train", path=root, image_size=16)
    test = load_dataset("folder", "test", path=root, image_size=16)
    assert train.class_names == ["cat", "dog"] and train.images.shape[1:] == (3, 16, 16)
    assert len(train) + len(test) == 12 and len(test) == 2 and sorted(test.labels.tolist()) == [0, 1]
    assert len(train.skipped) == 2 and any("broken.jpg" in s for s in train.skipped)
    assert train.mean == test.mean
    grey = load_dataset("folder", "train", path=root, image_size=8, channels=1)
    assert grey.channels == 1


def test_folder_zip_and_train_test_subfolders(tmp_path):
    src = tmp_path / "src"
    make_folder(src / "photos" / "train", ("a", "b", "c"), per_class=3)
    make_folder(src / "photos" / "test", ("a", "b", "c"), per_class=1)
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(src.rglob("*.png")):
            z.write(path, path.relative_to(src).as_posix())  # one top-level folder, as zips usually are
    train = load_dataset("folder", "train", path=archive)
    test = load_dataset("folder", "test", path=archive)
    assert (len(train), len(test)) == (9, 3) and train.class_names == ["a", "b", "c"]
    assert train.image_size == (32, 32)


@pytest.mark.parametrize("member", ["../evil/x.png", "/abs/x.png", "a/../../x.png"])
def test_zip_with_path_traversal_is_refused(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/a.png", png_bytes(Image.new("RGB", (4, 4))))
        z.writestr(member, png_bytes(Image.new("RGB", (4, 4))))
    with pytest.raises(ValueError, match="outside"):
        load_dataset("folder", path=archive)


def test_folder_errors(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_dataset("folder", path=tmp_path / "empty")
    make_folder(tmp_path / "one", ("only",))
    with pytest.raises(ValueError, match="only the class 'only'.*at least two"):
        load_dataset("folder", path=tmp_path / "one")
    make_folder(tmp_path / "many", per_class=4)
    monkeypatch.setattr(data_images, "MAX_FOLDER_IMAGES", 5)
    with pytest.raises(ValueError, match="holds 8 files; the limit is 5"):
        load_dataset("folder", path=tmp_path / "many")
    with pytest.raises(ValueError, match="needs path="):
        load_dataset("folder")
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset("folder", path=tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="neither a folder nor a .zip"):
        load_dataset("folder", path=tmp_path / "file.txt")
    bad = tmp_path / "unreadable"
    (bad / "a").mkdir(parents=True)
    (bad / "b").mkdir()
    (bad / "a" / "x.png").write_bytes(b"junk")
    (bad / "b" / "y.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="none of its 2 files could be read"):
        load_dataset("folder", path=bad)


def test_folder_cache_sees_new_files_and_oversized_files_are_skipped(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "pets", per_class=5)
    assert len(load_dataset("folder", "train", path=root)) + len(load_dataset("folder", "test", path=root)) == 10
    Image.new("RGB", (12, 10), "red").save(root / "cat" / "new.png")  # the root folder's mtime does not change
    assert len(load_dataset("folder", "train", path=root)) + len(load_dataset("folder", "test", path=root)) == 11
    Image.effect_noise((128, 128), 80).save(root / "dog" / "big.png")  # ~16 kB; the others are < 1 kB
    monkeypatch.setattr(data_images, "MAX_FILE_BYTES", 5000)
    ds = load_dataset("folder", "train", path=root, image_size=8)
    assert len(ds.skipped) == 1 and "dog/big.png" in ds.skipped[0] and "over the limit" in ds.skipped[0]
