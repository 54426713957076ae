"""Augmentation throughput: batched on resident tensors vs the tutorials' per-sample PIL pipeline.

Both produce the same thing — random 4-pixel pad-and-crop, random horizontal flip, float
tensors normalised per channel, in shuffled batches of 128 — from the same 32×32 RGB images
(the shapes training set), in the same run:

  resident    what the trainers do: index the uint8 tensor (moved to the device once),
              cnnzoo.data.augment_batch with a seeded generator, cnnzoo.data.normalize
  per-sample  a torchvision VisionDataset returning PIL images through RandomCrop(32, padding=4)
              + RandomHorizontalFlip + ToTensor + Normalize, batched by a DataLoader

    python benchmarks/augment.py [--images 10000] [--workers 0] [--device cpu] [--threads N]

The last line is the ratio resident / per-sample images per second.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import VisionDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo.compute import seeded_generator  # noqa: E402
from cnnzoo.data import augment_batch, load_dataset, normalize  # noqa: E402

BATCH = 128


class InMemoryImages(VisionDataset):
    """Like torchvision's CIFAR10: HWC uint8 arrays in memory, one PIL image per __getitem__."""

    def __init__(self, images_hwc, labels, transform):
        super().__init__(root=None, transform=transform)
        self.data, self.targets = images_hwc, labels

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.data[index])), int(self.targets[index])

    def __len__(self):
        return len(self.data)


def images_per_second(make_epoch, minimum_images: int, device) -> float:
    for _ in make_epoch():  # warm-up epoch: first-call costs, caches, worker start-up
        pass
    seen, start = 0, time.perf_counter()
    while seen < minimum_images:
        for x, y in make_epoch():
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            seen += len(y)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="training images (shapes, 32×32 RGB)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the per-sample pipeline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    ds = load_dataset("shapes", "train", num_images=args.images)
    device = torch.device(args.device)
    print(f"{len(ds)} images {tuple(ds.images.shape[1:])}, batch {BATCH}, device {device}, "
          f"torch threads {torch.get_num_threads()}, DataLoader workers {args.workers}")

    images, labels = ds.images.to(device), ds.labels.to(device)  # uint8 (N, 3, 32, 32), moved once
    epochs = itertools.count()  # a new shuffle and new crops every epoch, as in training

    def resident_epoch():
        epoch = next(epochs)
        order = torch.randperm(len(ds), generator=seeded_generator(torch.device("cpu"), 0, epoch)).to(device)
        for step, start in enumerate(range(0, len(ds), BATCH)):
            idx = order[start:start + BATCH]
            x = augment_batch(images[idx], pad=4, flip=True, generator=seeded_generator(device, 0, epoch, step))
            yield normalize(x, ds.mean, ds.std), labels[idx]

    per_sample = InMemoryImages(
        ds.images.permute(0, 2, 3, 1).contiguous().numpy(), ds.labels.numpy(),
        transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(ds.mean, ds.std),
        ]),
    )
    loader = DataLoader(per_sample, batch_size=BATCH, shuffle=True, num_workers=args.workers,
                        persistent_workers=args.workers > 0, pin_memory=device.type == "cuda")

    per_sample_rate = images_per_second(lambda: loader, 2 * len(ds), device)
    resident_rate = images_per_second(resident_epoch, 20 * len(ds), device)
    print(f"per-sample PIL + DataLoader: {per_sample_rate:10,.0f} images/s")
    print(f"resident + augment_batch:    {resident_rate:10,.0f} images/s")
    print(f"ratio resident / per-sample: {resident_rate / per_sample_rate:.1f}x")


if __name__ == "__main__":
    main()
