"""Loss landscapes: Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss Landscape of Neural
Nets" (NeurIPS 2018, arXiv:1712.09913).

A network has hundreds of thousands of weights, so its loss surface cannot be drawn, but a slice
through it can. Take two random directions δ and η in weight space and draw, around the trained
weights θ*,

    f(α, β) = L(θ* + α·δ + β·η),        α, β ∈ [−span, span]

**Filter normalisation** (the paper's sec. 4). A random direction knows nothing of scale, but a
network with BatchNorm does not care about the size of a filter, only its direction: the same
step is large for a small filter and nothing for a large one. So every filter of a direction d
(one output channel's slice of a conv weight, one row of a linear weight) is rescaled to the norm
of the same filter of θ*:

    d_ij ← d_ij / ‖d_ij‖ · ‖θ*_ij‖        (layer i, filter j)

and α = 1 moves every filter by its own size; slices of different networks become comparable.
1-D parameters (biases, BatchNorm's γ and β) have no filters. The paper's code sets their
directions to zero by default ("ignore biasbn"): bn="ignore". Its other option copies them,
d = θ* (bn="copy"); bn="filter" draws them at random, each vector normalised as one filter.
BatchNorm runs in eval mode on the checkpoint's running statistics, which are never moved.

L is the mean cross-entropy on fixed images (`fixed_batches`: a seeded, stratified subset of the
test split), the same at every point and for every network compared, so differences between
points are the weights', not the batches'. The paper's 1-D plot goes along the straight line
from the initial to the trained weights (Goodfellow et al. 2015): `interpolation_1d`.

How it runs: torch.func.functional_call evaluates the network at weights passed in, never
written into the module. torch.func.vmap can evaluate several points in one call (their
convolutions become one grouped convolution), but on 2 CPU cores that measured slower than one
channels_last forward per point (benchmarks/landscape.py), so the loop is the default.

    probe = fixed_batches(test_set, batches=2)
    result = landscape_2d(model, probe, mean, std, steps=21, span=1.0, seed=0)
    result.loss                       # (21, 21): row i is β_i, column j is α_j; result.centre_loss
    initial, exact = starting_point(meta)
    line = interpolation_1d(model, initial, probe, mean, std)    # line.ts, line.loss
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, vmap

from cnnzoo.compute import MEMORY_FORMAT, normalize
from cnnzoo.data.dataset import stratified_order
from cnnzoo.checkpoints import initial_model

BN_MODES = ("ignore", "copy", "filter")
MIN_STEPS, MAX_STEPS = 3, 51  # per side; odd, so that θ* itself (α = β = 0) is a grid point
MAX_SPAN = 10.0
BATCH_SIZE = 64
MAX_BATCHES = 32
# Points between two progress reports and Stop checks (and per vmap call).
POINTS_PER_CALL = 8
# vmap turns P points' convolutions into one grouped convolution; on 2 CPU cores that measured
# slower than a loop of channels_last forwards (benchmarks/landscape.py, 21×21 ResNet-20 on digits:
# loop 20.3 s, vmap of 2 points 24.8 s; 8 points per call 1.9× slower per point), so the loop is the default.
USE_VMAP = False


# ---------------------------------------------------------------------------------------------
# Directions
# ---------------------------------------------------------------------------------------------


def filter_norms(weight: torch.Tensor) -> torch.Tensor:
    """(C_out,) norms of the filters of a conv weight (C_out, C_in, k, k) or linear weight (C_out, C_in)."""
    return weight.flatten(1).norm(dim=1)


def random_direction(model: nn.Module, seed: int, bn: str = "ignore") -> dict[str, torch.Tensor]:
    """A filter-normalised random direction: name -> tensor of each parameter's shape.

    d ~ N(0, I), drawn on the CPU from a generator seeded with `seed` (the same numbers on any
    device, and for any two networks whose parameters have the same shapes); then each filter
    d_ij ← d_ij / ‖d_ij‖ · ‖θ*_ij‖. 1-D parameters by `bn`: "ignore" zero (the paper's default),
    "copy" d = θ* (its other option), "filter" random with the vector's own norm. They are drawn
    in every mode, so the filters' numbers do not depend on `bn`.
    """
    if bn not in BN_MODES:
        raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}")
    generator = torch.Generator().manual_seed(int(seed))
    direction = {}
    for name, param in model.named_parameters():
        theta = param.detach().float().cpu()
        d = torch.randn(theta.shape, generator=generator)
        if theta.dim() > 1:
            scale = filter_norms(theta) / filter_norms(d).clamp_min(1e-10)  # (C_out,)
            d = d * scale.view(-1, *[1] * (theta.dim() - 1))
        elif bn == "ignore":
            d.zero_()
        elif bn == "copy":
            d = theta.clone()
        else:
            d = d * (theta.norm() / d.norm().clamp_min(1e-10))
        direction[name] = d.to(param.device, param.dtype)
    return direction


def direction_seeds(seed: int) -> tuple[int, int]:
    """The seeds of δ and η for a landscape's `seed`: 2·seed and 2·seed + 1, so no two seeds share one."""
    return 2 * int(seed), 2 * int(seed) + 1


# ---------------------------------------------------------------------------------------------
# The fixed images, and scoring a network at many weights
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """The fixed images every point is scored on: `batches` batches of `batch_size` test images."""

    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    indices: torch.Tensor  # their positions in the test split
    dataset: str
    batch_size: int

    @property
    def batches(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)


def fixed_batches(ds, batches: int = 2, batch_size: int = BATCH_SIZE, seed: int = 0) -> Probe:
    """The first batches × batch_size images of a seeded stratified order of `ds` (all of them if
    it has fewer): every prefix holds the classes in their proportions. It depends only on the
    dataset and the numbers, so two networks of the same dataset are scored on the same images."""
    if not (isinstance(batches, int) and 1 <= batches <= MAX_BATCHES):
        raise ValueError(f"batches must be a whole number from 1 to {MAX_BATCHES}, got {batches!r}")
    if len(ds) == 0:
        raise ValueError(f"the {ds.name} test split is empty: nothing to measure the loss on")
    index = stratified_order(ds.labels, seed)[: batches * batch_size].sort().values
    return Probe(images=ds.images[index], labels=ds.labels[index], indices=index, dataset=ds.name,
                 batch_size=batch_size)


class PointScorer:
    """Mean loss and accuracy on a probe of one network at P sets of weights per call.

    The network is copied: functional_call swaps the module's tensors while it runs, and the
    original may be serving other threads (the app's models are shared). By default the P points
    run one after another, in channels_last (cnnzoo.compute.MEMORY_FORMAT); use_vmap=True runs
    them in one vmap call instead: the same numbers, measured slower on CPUs (see USE_VMAP).
    """

    def __init__(self, model: nn.Module, probe: Probe, mean, std, use_vmap: bool = USE_VMAP):
        self.model = copy.deepcopy(model).eval()
        device = next(self.model.parameters()).device
        self.buffers = {name: b.detach() for name, b in self.model.named_buffers()}
        layout = torch.contiguous_format if use_vmap else MEMORY_FORMAT
        self.inputs = [normalize(part.to(device), mean, std).contiguous(memory_format=layout)
                       for part in probe.images.split(probe.batch_size)]
        self.labels = [part.to(device) for part in probe.labels.split(probe.batch_size)]
        self.count, self.use_vmap = len(probe.labels), use_vmap

    def _sums(self, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor):
        logits = functional_call(self.model, (params, buffers), (x,))  # (N, K)
        return F.cross_entropy(logits, y, reduction="sum"), (logits.argmax(1) == y).sum()

    @torch.no_grad()
    def __call__(self, weights: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor] | None = None):
        """weights: name -> (P, *shape); buffers likewise, or None for the checkpoint's. -> loss (P,), accuracy (P,)."""
        points = len(next(iter(weights.values())))
        if buffers is None:
            buffers = {name: b.expand(points, *b.shape) for name, b in self.buffers.items()}  # views, no copies
        loss, correct = torch.zeros(points), torch.zeros(points)
        for x, y in zip(self.inputs, self.labels):
            if self.use_vmap:
                part_loss, part_correct = vmap(self._sums, in_dims=(0, 0, None, None))(weights, buffers, x, y)
            else:
                pairs = [self._sums(point(weights, p), point(buffers, p), x, y) for p in range(points)]
                part_loss, part_correct = (torch.stack(values) for values in zip(*pairs))
            loss += part_loss.float().cpu()
            correct += part_correct.float().cpu()
        return loss / self.count, correct / self.count


def point(stacked: dict[str, torch.Tensor], p: int) -> dict[str, torch.Tensor]:
    """Point p of stacked tensors (P, *shape), conv weights in channels_last like the inputs."""
    return {name: t[p].contiguous(memory_format=MEMORY_FORMAT) if t.dim() == 5 else t[p] for name, t in stacked.items()}


# ---------------------------------------------------------------------------------------------
# The 2-D landscape
# ---------------------------------------------------------------------------------------------


@dataclass
class Landscape:
    """f(α, β) on a grid, filled as it is computed (NaN where it is not yet)."""

    alphas: torch.Tensor  # (S,) along δ: the columns
    betas: torch.Tensor  # (S,) along η: the rows
    loss: torch.Tensor  # (S, S): loss[i, j] = L(θ* + α_j δ + β_i η)
    accuracy: torch.Tensor  # (S, S)
    seeds: tuple[int, int]  # of δ and η
    bn: str
    images: int  # test images L is the mean over
    done: int = 0  # points computed
    stopped: str | None = None  # None, "stopped" or "time limit"
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return self.loss.numel()

    @property
    def complete(self) -> bool:
        return self.done == self.points

    @property
    def centre_loss(self) -> float:
        middle = len(self.alphas) // 2
        return float(self.loss[middle, middle])

    def radii(self) -> torch.Tensor:
        """(S, S) distance √(α² + β²) of every grid point from θ*."""
        return torch.hypot(self.alphas.view(1, -1), self.betas.view(-1, 1))

    def mean_loss_at(self, radius: float) -> float:
        """The mean loss of the computed points within half a grid step of `radius` (NaN if none)."""
        step = float(self.alphas[1] - self.alphas[0])
        ring = ((self.radii() - radius).abs() <= step / 2 + 1e-9) & ~self.loss.isnan()
        return float(self.loss[ring].mean()) if ring.any() else math.nan

    def sharpness(self) -> float:
        """The discrete Laplacian at the centre, ∂²f/∂α² + ∂²f/∂β² ≈ (Σ four neighbours − 4 f(0, 0)) / h²:
        how fast the loss curves upwards around θ*, for a grid step h."""
        m, h = len(self.alphas) // 2, float(self.alphas[1] - self.alphas[0])
        around = self.loss[m - 1, m] + self.loss[m + 1, m] + self.loss[m, m - 1] + self.loss[m, m + 1]
        return float((around - 4 * self.loss[m, m]) / h**2)


def check_grid(steps, span) -> None:
    """ValueError saying the limits, for a grid the landscape cannot or should not compute."""
    if not (isinstance(steps, int) and MIN_STEPS <= steps <= MAX_STEPS and steps % 2 == 1):
        raise ValueError(f"steps per side must be an odd whole number from {MIN_STEPS} to {MAX_STEPS} "
                         f"({MIN_STEPS}×{MIN_STEPS} to {MAX_STEPS}×{MAX_STEPS} = {MAX_STEPS**2:,} points; odd, "
                         f"so that the trained weights are the centre point), got {steps!r}")
    if not (isinstance(span, (int, float)) and 0 < span <= MAX_SPAN):
        raise ValueError(f"span must be a number in (0, {MAX_SPAN:g}]: α and β go from −span to span "
                         f"(the paper: 1), got {span!r}")


def centre_first(steps: int) -> list[tuple[int, int]]:
    """All (row, column) of a steps × steps grid, nearest the centre first: a stopped run has the basin."""
    m = steps // 2
    cells = [(i, j) for i in range(steps) for j in range(steps)]
    return sorted(cells, key=lambda cell: ((cell[0] - m) ** 2 + (cell[1] - m) ** 2, cell))


def iter_landscape(model: nn.Module, probe: Probe, mean, std, *, steps: int = 21, span: float = 1.0,
                   seed: int = 0, bn: str = "ignore", points_per_call: int = POINTS_PER_CALL,
                   use_vmap: bool = USE_VMAP, stop: threading.Event | None = None,
                   time_limit_s: float | None = None) -> Iterator[Landscape]:
    """Compute f(α, β) = L(θ* + αδ + βη) on a steps × steps grid over [−span, span]², centre first,
    yielding the same Landscape after every `points_per_call` points. Stop (`stop` set, or
    `time_limit_s` spent) ends it early; the last value yielded is always the final state."""
    check_grid(steps, span)
    seeds = direction_seeds(seed)
    delta, eta = (random_direction(model, s, bn) for s in seeds)
    theta = {name: p.detach() for name, p in model.named_parameters()}
    coords = torch.linspace(-span, span, steps)
    nan = torch.full((steps, steps), math.nan)
    result = Landscape(alphas=coords, betas=coords.clone(), loss=nan, accuracy=nan.clone(), seeds=seeds, bn=bn,
                       images=len(probe.labels))
    score = PointScorer(model, probe, mean, std, use_vmap)
    cells, started = centre_first(steps), time.perf_counter()
    for start in range(0, len(cells), points_per_call):
        if stop is not None and stop.is_set():
            result.stopped = "stopped"
        elif time_limit_s is not None and time.perf_counter() - started > time_limit_s:
            result.stopped = "time limit"
        if result.stopped:
            yield result
            return
        chunk = cells[start:start + points_per_call]
        rows, cols = torch.tensor([i for i, _ in chunk]), torch.tensor([j for _, j in chunk])
        weights = {name: shifted(t, delta[name], coords[cols], eta[name], coords[rows]) for name, t in theta.items()}
        loss, accuracy = score(weights)
        result.loss[rows, cols], result.accuracy[rows, cols] = loss, accuracy
        result.done += len(chunk)
        result.seconds = time.perf_counter() - started
        yield result


def shifted(theta: torch.Tensor, delta: torch.Tensor, alphas: torch.Tensor, eta: torch.Tensor,
            betas: torch.Tensor) -> torch.Tensor:
    """(P, *shape): θ + α_p·δ + β_p·η for the P points."""
    shape = (-1,) + (1,) * theta.dim()
    alphas, betas = alphas.to(theta).view(shape), betas.to(theta).view(shape)
    return theta + alphas * delta + betas * eta


def landscape_2d(model: nn.Module, probe: Probe, mean, std, *,
                 progress: Callable[[Landscape], None] | None = None, **options) -> Landscape:
    """The whole landscape (or as far as Stop let it go): iter_landscape's last value. `progress` is
    called with the partial result after every call of the network."""
    result = None
    for result in iter_landscape(model, probe, mean, std, **options):
        if progress is not None:
            progress(result)
    return result


# ---------------------------------------------------------------------------------------------
# The 1-D interpolation from the initial to the trained weights
# ---------------------------------------------------------------------------------------------


def starting_point(meta: dict) -> tuple[nn.Module, bool]:
    """(θ_0, exact): the network as its training run began, rebuilt exactly from the checkpoint's
    recorded seed (checkpoints.initial_model). A checkpoint that does not record it (saved
    elsewhere) starts the line from a fresh initialisation with seed 0: exact False."""
    config = meta.get("train_config") or {}
    if config.get("model", meta["model"]) == meta["model"]:
        try:
            return initial_model(meta), True
        except ValueError:  # no recorded seed
            pass
    return initial_model({**meta, "train_config": {"seed": 0}}), False


@dataclass
class Interpolation:
    """L((1 − t)·θ_0 + t·θ*) along a line: t = 0 the initial weights, t = 1 the trained ones."""

    ts: torch.Tensor  # (T,)
    loss: torch.Tensor  # (T,)
    accuracy: torch.Tensor  # (T,)
    exact_start: bool = True  # θ_0 is the run's own initialisation (starting_point)
    stopped: str | None = None


def interpolation_1d(model: nn.Module, initial: nn.Module, probe: Probe, mean, std, *, steps: int = 41,
                     t_range: tuple[float, float] = (-0.5, 1.5), points_per_call: int = POINTS_PER_CALL,
                     use_vmap: bool = USE_VMAP, stop: threading.Event | None = None) -> Interpolation:
    """L(θ(t)), θ(t) = (1 − t)·θ_0 + t·θ*, at `steps` values of t in t_range, BatchNorm in eval mode.

    The running statistics are interpolated with the weights inside [0, 1] and stay those of the
    nearer end beyond it (extrapolated variances would turn negative), so t = 0 is exactly the
    initial network and t = 1 exactly the trained one."""
    if not (isinstance(steps, int) and 2 <= steps <= 201):
        raise ValueError(f"steps must be a whole number from 2 to 201, got {steps!r}")
    end = dict(model.named_parameters())
    start = dict(initial.named_parameters())
    if {n: p.shape for n, p in start.items()} != {n: p.shape for n, p in end.items()}:
        raise ValueError("the initial and trained networks must have the same architecture")
    trained_buffers, initial_buffers = dict(model.named_buffers()), dict(initial.named_buffers())
    ts = torch.linspace(*t_range, steps)
    score = PointScorer(model, probe, mean, std, use_vmap)
    loss, accuracy = torch.full((steps,), math.nan), torch.full((steps,), math.nan)
    result = Interpolation(ts, loss, accuracy)
    for first in range(0, steps, points_per_call):
        if stop is not None and stop.is_set():
            result.stopped = "stopped"
            break
        t = ts[first:first + points_per_call]
        weights = {name: along(start[name].detach(), p.detach(), t) for name, p in end.items()}
        buffers = {name: along(initial_buffers[name], b, t.clamp(0, 1)) for name, b in trained_buffers.items()}
        loss[first:first + len(t)], accuracy[first:first + len(t)] = score(weights, buffers)
    return result


def along(start: torch.Tensor, end: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """(T, *shape): (1 − t)·start + t·end for each t; integer tensors (BN's batch counter) stay `end`."""
    if not end.is_floating_point():
        return end.expand(len(ts), *end.shape)
    t = ts.to(end).view((-1,) + (1,) * end.dim())
    return (1 - t) * start.to(end) + t * end
