"""How good are a generator's samples? Measured offline with a classifier of the same data.

FID needs ImageNet Inception weights, which cannot be downloaded here. Instead a small
classifier trained on the real data (e.g. the shipped digits net) labels N generated samples:

    coverage    how many of the K classes appear as a top-1 label (mode collapse shows here)
    entropy     H = −Σ_c p_c ln p_c of the class histogram p; ln K (ln 10 ≈ 2.30) when balanced
    confidence  the mean top-1 softmax probability

Never read confidence alone: a small digits classifier is often fully confident on pure noise.
So every score is shown beside two references through the same pipeline: real test images
(the ceiling) and uniform noise (the floor).

    classifier, meta = load_classifier(default_scorer_path("digits"))
    score_generator(G, classifier, meta, n=1000)     # SampleScore(classes 10/10, entropy 2.23, ...)
    reference_scores(classifier, meta, "digits", image_size=32)  # {"real": ..., "noise": ...}
    score_with_references(G, classifier, meta, "digits")         # all three
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from cnnzoo import data as datasets
from cnnzoo.checkpoints import load_checkpoint, read_checkpoint_meta
from cnnzoo.compute import predict_logits
from cnnzoo.latent import generate, latent_noise
from cnnzoo.registry import get_entry
from cnnzoo.viz import to_uint8

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass
class SampleScore:
    """Class coverage, class-histogram entropy (nats) and mean top-1 confidence of N images."""

    num_samples: int
    num_classes: int
    classes_present: int
    entropy: float
    confidence: float
    histogram: list[int]

    @property
    def max_entropy(self) -> float:
        return math.log(self.num_classes)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.classes_present}/{self.num_classes} classes, entropy {self.entropy:.2f} "
                f"(max {self.max_entropy:.2f}), confidence {self.confidence:.2f} on {self.num_samples} images")


def histogram_score(logits: torch.Tensor) -> SampleScore:
    """The score of classifier logits (N, K): coverage, entropy of the top-1 histogram, confidence."""
    if logits.dim() != 2 or len(logits) == 0:
        raise ValueError(f"logits must have shape (N, K) with N >= 1, got {tuple(logits.shape)}")
    probabilities = logits.float().softmax(1)
    confidence, top1 = probabilities.max(1)
    counts = torch.bincount(top1, minlength=logits.shape[1])
    p = counts[counts > 0].double() / len(logits)
    return SampleScore(
        num_samples=len(logits),
        num_classes=logits.shape[1],
        classes_present=int((counts > 0).sum()),
        entropy=max(0.0, float(-(p * p.log()).sum())),  # max: no "-0.00" for one class
        confidence=float(confidence.mean()),
        histogram=counts.tolist(),
    )


def load_classifier(path, device="cpu") -> tuple[nn.Module, dict]:
    """(classifier in eval mode, meta) from a classifier checkpoint; ValueError for other files."""
    model, meta = load_checkpoint(path, device)
    if get_entry(meta["model"]).kind != "classifier":
        raise ValueError(f"{Path(path).name} holds a {get_entry(meta['model']).kind}, not a classifier; "
                         f"score samples with a classifier trained on the same data (e.g. digits-*.safetensors)")
    for key in ("mean", "std", "input_size"):
        if key not in meta:
            raise ValueError(f"{Path(path).name} lacks {key!r} in its metadata; save it with cnnzoo.train")
    return model, meta


def default_scorer_path(dataset: str, folder: str | Path = CHECKPOINT_DIR) -> Path | None:
    """The first classifier checkpoint in `folder` trained on `dataset` (by name), or None."""
    for path in sorted(Path(folder).glob("*.safetensors")):
        try:
            meta = read_checkpoint_meta(path)
            if meta.get("dataset") == dataset and get_entry(meta["model"]).kind == "classifier":
                return path
        except ValueError:  # not a cnnzoo checkpoint, or an architecture this version lacks
            continue
    return None


@torch.no_grad()
def classify(classifier: nn.Module, meta: dict, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits (N, K) for images (N, C, H, W): uint8, or float in [−1, 1] as a tanh generator makes them.

    The images go through the classifier's own input pipeline: resized to its input size
    (antialiased, so 32×32 samples can be scored by an 8×8 digits net) and normalised with
    its mean and std.
    """
    channels, height, width = meta["input_size"]
    if images.shape[1] != channels:
        raise ValueError(f"the classifier takes {channels}-channel images, these have {images.shape[1]}; "
                         f"score with a classifier of the generator's dataset")
    return predict_logits(classifier, to_uint8(images), meta["mean"], meta["std"], batch_size=batch_size,
                          size=(height, width))


def score_images(classifier: nn.Module, meta: dict, images: torch.Tensor) -> SampleScore:
    """SampleScore of a batch of images (uint8 or float in [−1, 1])."""
    return histogram_score(classify(classifier, meta, images))


@torch.no_grad()
def score_generator(generator: nn.Module, classifier: nn.Module, meta: dict, n: int = 1000,
                    seed: int = 12345) -> SampleScore:
    """SampleScore of n samples of the generator (in eval mode) from latent_noise(seed, n)."""
    z = latent_noise(seed, n, generator.latent_dim)
    return score_images(classifier, meta, generate(generator, z))


def reference_scores(classifier: nn.Module, meta: dict, dataset: str, image_size: int | None = None,
                     n: int = 1000, seed: int = 0) -> dict[str, SampleScore]:
    """{"real": score of the real test split (the ceiling), "noise": score of uniform noise (the floor)}.

    image_size: the size the generator makes, so that real images take the same resize path.
    """
    real = datasets.load_dataset(dataset, "test", image_size=image_size)
    if len(real) > n:
        real = real.subset(datasets.stratified_order(real.labels, seed)[:n])
    shape = (n, real.channels, *real.image_size)
    noise = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    return {"real": score_images(classifier, meta, real.images), "noise": score_images(classifier, meta, noise)}


def score_with_references(generator: nn.Module, classifier: nn.Module, meta: dict, dataset: str,
                          n: int = 1000, seed: int = 12345) -> dict[str, SampleScore]:
    """{"generator", "real", "noise"}: the generator's score beside the ceiling and the floor,
    all through the same pipeline (what the GAN tab and the checkpoint card show)."""
    return {"generator": score_generator(generator, classifier, meta, n=n, seed=seed),
            **reference_scores(classifier, meta, dataset, image_size=generator.image_size, n=n)}
