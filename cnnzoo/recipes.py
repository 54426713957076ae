"""Named training recipes: the papers' and the seeds' settings, and the fast classroom ones.

One table for the CLI (`python -m train.classifier --recipe NAME`), the Train tab's recipe list
and defaults, and the benchmarks. Each recipe is a dict of cnnzoo.trainer.TrainConfig fields;
a field it leaves out keeps TrainConfig's default. SOURCES says who states each recipe's
settings: a paper (section), a seed's code (the seed document and post, see
../shared/seeds/README.md), or this project (where it was measured). GAN_PRESETS are the same
for cnnzoo.gan_trainer.GANConfig, the GAN tab's presets.

Where a paper and the seed's code differ, both are here, each named by its source: the WRN
tutorial's code uses plain momentum, the WRN paper Nesterov momentum; the seeds' CIFAR code
normalises with kuangliu/pytorch-cifar's mean/std ("seeds-cifar"), whose std is not CIFAR-10's.
"""
from __future__ import annotations

# The WRN tutorial's schedule, shared by its code and the paper: ×0.2 at epochs 60, 120, 160 of 200.
_WRN = dict(dataset="cifar10", epochs=200, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
            schedule="multistep", milestones=(0.3, 0.6, 0.8), gamma=0.2)

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
    # He et al. 2016, sec. 4.2: SGD 0.1, m 0.9, wd 1e-4, batch 128, /10 at 32k and 48k of 64k iterations
    # (182 epochs of their 45k-image training split; on all 50k images, 390 steps an epoch, 164 epochs).
    "resnet20-cifar10": dict(
        model="resnet20", dataset="cifar10", epochs=164, batch_size=128, lr=0.1, momentum=0.9,
        weight_decay=1e-4, schedule="multistep", milestones=(0.5, 0.75), gamma=0.1,
    ),
    # The ResNet tutorial's code (seed 000 d): resnet18, SGD 0.1 m0.9 wd 5e-4, CosineAnnealingLR
    # T_max=200 over 200 epochs, batch 128, crop+flip, Normalize with the seeds' CIFAR mean/std.
    "resnet18-cifar10": dict(
        model="resnet18", dataset="cifar10", epochs=200, batch_size=128, lr=0.1, momentum=0.9,
        weight_decay=5e-4, schedule="cosine", normalisation="seeds-cifar",
    ),
    # The WRN tutorial's code (seed 000 b): WideResNet(40, 10, 2, 0.3), SGD(lr 0.1, momentum 0.9,
    # wd 5e-4) with *plain* momentum, MultiStepLR [60, 120, 160] γ 0.2, 200 epochs, the seeds' mean/std.
    "wrn-40-2-cifar10": dict(model="wide_resnet40_2", knobs={"dropout": 0.3}, **_WRN, normalisation="seeds-cifar"),
    # Zagoruyko & Komodakis 2016, sec. 3 (seed 000 c): the same, but SGD with Nesterov momentum,
    # and "CIFAR mean/std preprocessing": the dataset's own statistics.
    "wrn-40-2-cifar10-paper": dict(model="wide_resnet40_2", knobs={"dropout": 0.3}, **_WRN, nesterov=True),
    "wrn-28-10-cifar10": dict(model="wide_resnet28_10", knobs={"dropout": 0.3}, **_WRN, nesterov=True),
    # The Inception-module tutorial's code (seed 002): MNIST as ToTensor() only ([0, 1], no
    # Normalize), batch 64, SGD lr 0.01 momentum 0.5, `for epoch in range(1, 10)` = 9 epochs, no
    # augmentation or weight decay, constant lr. The tutorial reports 9822/10000 (98%), loss 0.0536.
    "inception-mnist": dict(
        model="inception_mnist", dataset="mnist", epochs=9, batch_size=64, optimizer="sgd", lr=0.01,
        momentum=0.5, weight_decay=0.0, schedule="constant", augment=False, normalisation="none",
    ),
}

# The ResNet paper's Figure 1/6 at classroom scale (the Experiments and Train tabs' degradation
# preset, benchmarks/degradation.py): plain nets get *worse* with depth, residual nets do not, on
# the same data and recipe. Tried (2026-12-02, 2-core AVX-512 Xeon): this setting as it stood,
# for seeds 0, 1, 2 — plain-56's training error 42.9/71.0/53.0% against plain-20's 0.6/0.9/0.7%,
# ResNet-56 0.6/0.1/0.3% against ResNet-20 0.4/0.3/0.1%, the four runs in 65-76 s; it needed no
# change. Five epochs are too few (ResNet-56 is then still 10 points behind ResNet-20).
# The paper's full version: --recipe resnet20-cifar10 with --model plain20 … plain110 / resnet110.
DEGRADATION_MODELS = ["plain20", "resnet20", "plain56", "resnet56"]
DEGRADATION_RECIPE = dict(dataset="digits", image_size=16, epochs=12, batch_size=64, optimizer="sgd",
                          lr=0.05, schedule="onecycle", weight_decay=1e-4, augment=True, seed=0)

# GANConfig fields. Batch sizes the seeds leave to a BATCH_SIZE they never show are the papers':
# DCGAN trained with mini-batches of 128, WGAN's Algorithm 1 has m = 64.
# The seed presets show 64 fixed-noise samples (GANConfig.num_samples, the GAN tab's 8×8 grid), not
# the 16 fixed vectors of the seeds' code (seed 000 f, h); their sample rhythm is the seeds'.
GAN_PRESETS: dict[str, dict] = {
    # The GAN tab's defaults: they show all ten digits within about a minute on a laptop CPU.
    "dcgan-digits": dict(model="dcgan", dataset="digits", image_size=32, width=20, batch_size=64),
    "wgan-digits": dict(model="wgan", dataset="digits", image_size=32, width=20, batch_size=64),
    # The DCGAN tutorial's code (seed 000 h): Fashion-MNIST Resize(64), Normalize(0.5, 0.5); G
    # 1024-512-256-128 (width 128), Adam 2e-4 β1 0.5; seed 999; a sample grid every 100 batches.
    "dcgan-fashion64-seed": dict(model="dcgan", dataset="fashion-mnist", image_size=64, width=128, batch_size=128,
                                 lr=2e-4, beta1=0.5, seed=999, sample_every=100),
    # The WGAN tutorial's code (seed 000 f): MNIST Resize(32); G 1024-512-256 (width 256); latent
    # 100; RMSprop 5e-5; clip_value = 0.005 ("0.01 gave poor results"); n_critic 5; a sample grid
    # every 400 batches = 80 generator steps.
    "wgan-mnist32-seed": dict(model="wgan", dataset="mnist", image_size=32, width=256, batch_size=64,
                              lr=5e-5, clip=0.005, n_critic=5, sample_every=80),
    # Arjovsky et al. 2017, Algorithm 1 (seed 000 g): α = 5e-5, c = 0.01, m = 64, n_critic = 5,
    # on the tutorial's MNIST 32×32 net.
    "wgan-mnist32-paper": dict(model="wgan", dataset="mnist", image_size=32, width=256, batch_size=64,
                               lr=5e-5, clip=0.01, n_critic=5, sample_every=80),
}

# Who states each recipe's and preset's settings.
SOURCES: dict[str, str] = {
    "digits-fast": "this project: about 98% on the built-in digits in seconds (benchmarks/time_to_accuracy.py)",
    "shapes-cam": "this project: the CAM tab's shipped model (benchmarks/cam_localisation.py)",
    "resnet20-digits": "this project: the shipped ResNet-20 (checkpoints/resnet20-digits.md)",
    "plain20-digits": "this project: resnet20-digits without shortcuts (checkpoints/plain20-digits.md)",
    "resnet20-cifar10": "He et al. 2016, CIFAR-10 (sec. 4.2)",
    "resnet18-cifar10": "the ResNet tutorial's code (seed 000 d, after kuangliu/pytorch-cifar)",
    "wrn-40-2-cifar10": "the WRN tutorial's code (seed 000 b): plain momentum",
    "wrn-40-2-cifar10-paper": "Zagoruyko & Komodakis 2016, sec. 3 (seed 000 c): Nesterov momentum",
    "wrn-28-10-cifar10": "Zagoruyko & Komodakis 2016, sec. 3 and their WRN-28-10 (seed 000 c): Nesterov momentum",
    "inception-mnist": "the Inception tutorial's code (seed 002)",
    "dcgan-digits": "this project: the GAN tab's CPU defaults (checkpoints/dcgan-digits.md)",
    "wgan-digits": "this project: the GAN tab's CPU defaults, as a WGAN",
    "dcgan-fashion64-seed": "the DCGAN tutorial's code (seed 000 h); batch 128 as the DCGAN paper",
    "wgan-mnist32-seed": "the WGAN tutorial's code (seed 000 f): clip 0.005",
    "wgan-mnist32-paper": "Arjovsky et al. 2017, Algorithm 1 (seed 000 g): clip 0.01, on the tutorial's MNIST 32×32",
}
