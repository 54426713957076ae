"""How good are a generator's samples? Measured offline with a classifier of the same data.

FID needs ImageNet Inception weights, which cannot be downloaded here. Instead a small
classifier trained on the real data (e.g. the shipped digits net) labels N generated samples:

    coverage    how many of the K classes appear as a top-1 label (mode collapse shows here)
    entropy     H = −Σ_c p_c ln p_c of the class histogram p; ln K (ln 10 ≈ 2.30) when balanced
    confidence  the mean top-1 softmax probability

Never read confidence alone: a small digits classifier is often fully confident on pure noise.
So every score is shown beside two references through the same pipeline: real test images
(the ceiling) and uniform noise (the floor).

    scorer = find_scorer("auto", "digits")            # the shipped digits classifier, or None
    score = score_generator(G, scorer.classifier, scorer.meta, n=1000)   # SampleScore(10/10, 2.23, ...)
    references = reference_scores(scorer.classifier, scorer.meta, "digits", image_size=32)  # real, noise
    score_report(score, references, scorer.name)    # the dict checkpoints store and the GAN tab shows
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn

from cnnzoo import data as datasets
from cnnzoo.checkpoints import load_checkpoint, shipped
from cnnzoo.compute import predict_logits
from cnnzoo.latent import generate, latent_noise
from cnnzoo.viz import to_uint8

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
    model, meta = load_checkpoint(path, device, kind="classifier")
    for key in ("mean", "std", "input_size"):
        if key not in meta:
            raise ValueError(f"{Path(path).name} lacks {key!r} in its metadata; save it with cnnzoo's trainer")
    return model, meta


class Scorer(NamedTuple):
    """A classifier of the generator's dataset that labels its samples, and the name scores give it."""

    classifier: nn.Module
    meta: dict
    name: str  # the checkpoint's file name (or the path the user gave)


def find_scorer(spec: str | None, dataset: str, device="cpu") -> Scorer | None:
    """The classifier that scores samples of `dataset`: spec "auto" takes the shipped one trained on
    it (None when none ships), a path takes that checkpoint, None scores nothing."""
    if spec is None:
        return None
    if spec == "auto":
        found = shipped("classifier", dataset=dataset)
        if not found:
            return None
        path, name = found[0], found[0].name
    else:
        path, name = Path(spec), spec
    return Scorer(*load_classifier(path, device), name=name)


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


def score_report(score: SampleScore, references: dict[str, SampleScore], scorer: str) -> dict:
    """The generator's score beside the real-data ceiling and the noise floor, as one JSON-ready
    dict: {**score, "scorer": name, "real": {...}, "noise": {...}}. What a generator checkpoint
    stores, the GAN trainer's score events carry and the GAN tab shows: assembled only here."""
    return {**score.to_dict(), "scorer": scorer, **{name: ref.to_dict() for name, ref in references.items()}}
