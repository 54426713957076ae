"""Images/s of the cnnzoo training loop vs a bare loop and a tutorial-style loop, same run.

resnet20 on 32×32 RGB images, batch 128, SGD, on this machine's CPU (or GPU if present):

- bare:   forward / backward / step on pre-loaded, pre-normalised tensors, nothing else
          (the limit any loop can reach; same memory format as cnnzoo's)
- cnnzoo: cnnzoo.trainer.Trainer with crop + flip augmentation, metrics and events included, in
          the precision "auto" chooses on this machine (cnnzoo.precision: bf16 where the CPU
          computes it natively and it measured faster, else fp32); its choice is printed
- cnnzoo_fp32: the same loop forced to fp32: the loop's own overhead against bare
- tutorial: the source posts' style: a torchvision Dataset of PIL images with per-sample RandomCrop,
          RandomHorizontalFlip, ToTensor, Normalize, through a DataLoader (num_workers=2)

The loops run interleaved, three rounds, and each figure is the median round. Ratios printed:
cnnzoo / tutorial (target >= 1.3), cnnzoo_fp32 / bare (the loop's overhead, target >= 0.9) and
cnnzoo / bare, the chosen path against bare fp32 PyTorch (target >= 1.3 where the CPU has
native bf16, >= 0.97 elsewhere).

    python benchmarks/train_loop.py [--steps 12]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo import create_model  # noqa: E402
from cnnzoo.data import ImageDataset  # noqa: E402
from cnnzoo.compute import MEMORY_FORMAT, pick_device  # noqa: E402
from cnnzoo.precision import cpu_has_native_bf16  # noqa: E402
from cnnzoo.trainer import TrainConfig, Trainer  # noqa: E402

BATCH, SIZE, MODEL = 128, 32, "resnet20"
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def fake_cifar(n: int, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(
        name="fake-cifar", images=torch.randint(0, 256, (n, 3, SIZE, SIZE), dtype=torch.uint8, generator=g),
        labels=torch.randint(0, 10, (n,), generator=g), class_names=[str(i) for i in range(10)],
        mean=MEAN, std=STD, flip=True,
    )


def bare(train: ImageDataset, steps: int, device) -> float:
    fmt = MEMORY_FORMAT
    torch.manual_seed(0)
    model = create_model(MODEL).to(device, memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    x_all = ((train.images.float() / 255 - mean) / std).to(device).contiguous(memory_format=fmt)
    y_all = train.labels.to(device)
    start = time.perf_counter()
    for s in range(steps):
        x, y = x_all[s * BATCH:(s + 1) * BATCH], y_all[s * BATCH:(s + 1) * BATCH]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    loss.item()
    return steps * BATCH / (time.perf_counter() - start)


CHOSEN = {}  # the precision "auto" chose, and why


def cnnzoo_loop(train: ImageDataset, test: ImageDataset, steps: int, device, precision: str = "auto") -> float:
    config = TrainConfig(model=MODEL, epochs=1, batch_size=BATCH, lr=0.05, schedule="cosine",
                         augment=True, evals_per_epoch=1, device=str(device), precision=precision)
    trainer = Trainer(config, train_set=train, test_set=test)
    start = None
    for event in trainer.run():
        if event.kind == "start":
            start = time.perf_counter()  # after the model is built (and the precision chosen), like bare's clock
            CHOSEN[precision] = (trainer.precision, trainer.precision_why)
    return steps * BATCH / (time.perf_counter() - start)


def tutorial_loop(train: ImageDataset, steps: int, device) -> float:
    import torchvision.transforms as T
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    class PILDataset(Dataset):  # like torchvision.datasets.CIFAR10: PIL image per sample
        def __init__(self, images, labels, transform):
            self.images, self.labels, self.transform = images.permute(0, 2, 3, 1).numpy(), labels, transform

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])

    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    loader = DataLoader(PILDataset(train.images, train.labels, transform), batch_size=BATCH, shuffle=True, num_workers=2)
    torch.manual_seed(0)
    model = create_model(MODEL).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    start = time.perf_counter()
    for s, (x, y) in enumerate(loader):
        if s == steps:
            break
        x, y = x.to(device), y.to(device)
        outputs = model(x)
        loss = F.cross_entropy(outputs, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        _ = (outputs.argmax(1) == y).sum().item(), loss.item()  # the tutorials' running metrics
    return steps * BATCH / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    device = pick_device("auto")
    train, test = fake_cifar(args.steps * BATCH), fake_cifar(BATCH, seed=1)
    results = {"bare": [], "cnnzoo": [], "cnnzoo_fp32": [], "tutorial": []}
    bare(train, 2, device), cnnzoo_loop(fake_cifar(2 * BATCH), test, 2, device)  # warm-up
    for _ in range(args.rounds):
        results["bare"].append(bare(train, args.steps, device))
        results["cnnzoo"].append(cnnzoo_loop(train, test, args.steps, device))
        results["cnnzoo_fp32"].append(cnnzoo_loop(train, test, args.steps, device, precision="fp32"))
        results["tutorial"].append(tutorial_loop(train, args.steps, device))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"device: {device}, threads: {torch.get_num_threads()}, {MODEL}, batch {BATCH}, {args.steps} steps x {args.rounds} rounds")
    for name, value in med.items():
        print(f"{name} images/s: {value:.1f}")
    chosen, why = CHOSEN["auto"]
    print(f"cnnzoo precision: {chosen} ({why}); native bf16 on this CPU: {cpu_has_native_bf16()}")
    print(f"cnnzoo/tutorial-style: {med['cnnzoo'] / med['tutorial']:.2f}")
    print(f"cnnzoo_fp32/bare: {med['cnnzoo_fp32'] / med['bare']:.2f}")
    print(f"cnnzoo/bare: {med['cnnzoo'] / med['bare']:.2f}")


if __name__ == "__main__":
    main()
