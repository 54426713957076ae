"""Named training recipes: the papers' and the tutorials' settings, and the fast classroom ones.

One table for the CLI (`python -m train.classifier --recipe NAME`), the Train tab's defaults
and the benchmarks. Each recipe is a dict of cnnzoo.trainer.TrainConfig fields.
"""
from __future__ import annotations

RECIPES: dict[str, dict] = {
    "digits-fast": dict(
        model="simple_cnn", dataset="digits", epochs=15, batch_size=64, optimizer="sgd", lr=0.05,
        schedule="onecycle", weight_decay=5e-4,
    ),
    # The CAM tab's default model: simple_cnn's GAP head on its 8×8 final map, which localised
    # 83.5% of the shapes test set at threshold 0.75, vs 61.8% for a 16×16 map (downsample=1),
    # whose maps lock onto parts (benchmarks/cam_localisation.py).
    "shapes-cam": dict(
        model="simple_cnn", dataset="shapes", epochs=8, batch_size=64,
        optimizer="sgd", lr=0.05, schedule="onecycle", weight_decay=5e-4,
    ),
    "resnet20-digits": dict(
        model="resnet20", dataset="digits", image_size=32, epochs=15, batch_size=64, lr=0.1,
        schedule="onecycle",
    ),
    # The loss-landscape tab's plain partner of resnet20-digits: the same recipe, no shortcuts.
    "plain20-digits": dict(
        model="plain20", dataset="digits", image_size=32, epochs=15, batch_size=64, lr=0.1,
        schedule="onecycle",
    ),
    # He et al. 2016, CIFAR-10: SGD 0.1, m 0.9, wd 1e-4, batch 128, /10 at 32k and 48k of 64k iterations.
    "resnet20-cifar10": dict(
        model="resnet20", dataset="cifar10", epochs=182, batch_size=128, lr=0.1, momentum=0.9,
        weight_decay=1e-4, schedule="multistep", milestones=(0.5, 0.75), gamma=0.1,
    ),
    # The ResNet tutorial's code: resnet18, SGD 0.1 m0.9 wd 5e-4, cosine over 200 epochs, crop+flip.
    "resnet18-cifar10": dict(
        model="resnet18", dataset="cifar10", epochs=200, batch_size=128, lr=0.1, momentum=0.9,
        weight_decay=5e-4, schedule="cosine",
    ),
    # The WRN tutorial's code / Zagoruyko & Komodakis: SGD 0.1 m0.9 wd 5e-4, x0.2 at 60/120/160 of 200.
    "wrn-40-2-cifar10": dict(
        model="wide_resnet40_2", knobs={"dropout": 0.3}, dataset="cifar10", epochs=200, batch_size=128,
        lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="multistep", milestones=(0.3, 0.6, 0.8), gamma=0.2,
    ),
    "wrn-28-10-cifar10": dict(
        model="wide_resnet28_10", knobs={"dropout": 0.3}, dataset="cifar10", epochs=200, batch_size=128,
        lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="multistep", milestones=(0.3, 0.6, 0.8), gamma=0.2,
    ),
    # The Inception-module tutorial (source post 002): MNIST, SGD lr 0.01 momentum 0.5, no augmentation.
    "inception-mnist": dict(
        model="inception_mnist", dataset="mnist", epochs=10, batch_size=64, optimizer="sgd", lr=0.01,
        momentum=0.5, weight_decay=0.0, schedule="constant", augment=False,
    ),
}
