"""Datasets as resident tensors, and augmentation that runs on whole batches.

Every dataset is loaded once into memory as a uint8 tensor (N, C, H, W) plus int64 labels.
Training then never touches PIL or a DataLoader: a batch is an index into the resident
tensor, augmentation (random pad-and-crop, horizontal flip) is one gather over the whole
batch on the training device, and normalisation is one fused multiply-add:

    train = load_dataset("shapes", "train")                  # ImageDataset, 10,000 × (3, 32, 32)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(train), generator=g)[:128]
    x = augment_batch(train.images[idx], pad=train.augment_pad, flip=train.flip, generator=g)
    x = normalize(x, train.mean, train.std)                  # float (128, 3, 32, 32)

The tutorials' pipeline (torchvision Dataset -> per-sample PIL RandomCrop/Flip/ToTensor/
Normalize -> DataLoader) does the same work one image at a time in Python;
benchmarks/augment.py measures the difference.

Built-in datasets work offline: `digits` (the UCI 8×8 handwritten digits, shipped in
cnnzoo/assets/) and `shapes` (procedurally generated, with ground-truth boxes for CAM).
MNIST, Fashion-MNIST and CIFAR-10/100 are read from a data directory (`root`, else the
environment variable CNNZOO_DATA_DIR, else ./data) in torchvision's on-disk layout and
downloaded there when the machine is online. `folder` reads a user's own pictures.

    dataset.py      ImageDataset, the table of datasets, stratified subsets and splits, statistics
    load.py         load_dataset and its cache
    digits.py       the shipped 8×8 digits
    shapes.py       the procedural shapes and their boxes
    mnist_cifar.py  MNIST, Fashion-MNIST and CIFAR on disk, downloads, the safe CIFAR unpickler
    images.py       load_image (uploads and folders) and the folder/zip dataset
    augment.py      augment_batch
"""
from cnnzoo.compute import normalize, resize_uint8
from cnnzoo.data.augment import augment_batch
from cnnzoo.data.dataset import (
    CIFAR10_NAMES,
    DIGIT_NAMES,
    FASHION_NAMES,
    NORMALISATIONS,
    OFFLINE_ALTERNATIVES,
    SHAPE_NAMES,
    SPLITS,
    DatasetUnavailable,
    ImageDataset,
    channel_stats,
    check_normalisation,
    dataset_info,
    dataset_names,
    default_data_dir,
    split_validation,
    stratified_order,
    stratified_subset,
    with_normalisation,
)
from cnnzoo.data.digits import ASSETS
from cnnzoo.data.images import MAX_FILE_BYTES, MAX_FOLDER_IMAGES, MAX_IMAGE_PIXELS, MAX_ZIP_BYTES, load_image
from cnnzoo.data.load import CACHE_BYTES, load_dataset
from cnnzoo.data.mnist_cifar import expected_files
from cnnzoo.data.shapes import make_shapes

# The limits are read in the module that defines them: to change one, set it there
# (cnnzoo.data.images.MAX_IMAGE_PIXELS); these names are copies, for reading.
__all__ = [
    "ASSETS", "CACHE_BYTES", "CIFAR10_NAMES", "DIGIT_NAMES", "FASHION_NAMES", "MAX_FILE_BYTES",
    "MAX_FOLDER_IMAGES", "MAX_IMAGE_PIXELS", "MAX_ZIP_BYTES", "NORMALISATIONS", "OFFLINE_ALTERNATIVES", "SHAPE_NAMES",
    "SPLITS", "DatasetUnavailable", "ImageDataset", "augment_batch", "channel_stats", "check_normalisation", "dataset_info",
    "dataset_names", "default_data_dir", "expected_files", "load_dataset", "load_image", "make_shapes",
    "normalize", "resize_uint8", "split_validation", "stratified_order", "stratified_subset",
    "with_normalisation",
]
