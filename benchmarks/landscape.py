"""Seconds for a loss landscape (cnnzoo.landscape): ResNet-20 on the 32×32 digits, on 2 CPU threads.

Target (issue 10): a 21×21 landscape of ResNet-20 on digits in ≤ 30 s on 2 CPU cores.

    per point   the time one grid point costs, scored on the fixed images (1 batch of 64 by
                default), as a loop of functional_call (one point per forward, channels_last:
                cnnzoo.landscape's default) and with
                torch.func.vmap (P points per forward, its convolutions one grouped convolution),
                for several P; medians over interleaved rounds (every variant once per round, in
                a shuffled order), so a busy machine slows all of them alike
    21x21       a whole landscape_2d, with the loop and with vmap at the best P, and the largest
                difference between the two grids (they must agree within float rounding)

    python benchmarks/landscape.py [--threads 2] [--steps 21] [--batches 1] [--rounds 5]

Prints `name: value` lines; `vmap_over_loop` is the loop's time per point over vmap's at the best
P (above 1: vmap is faster).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

# As the app's server does (ui/__init__.py), before torch loads: idle OpenMP threads sleep
# instead of spinning, which on 2 shared cores made the same point 2-15x slower at random.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cnnzoo.checkpoints import load_checkpoint  # noqa: E402
from cnnzoo.data import load_dataset  # noqa: E402
from cnnzoo.landscape import (  # noqa: E402
    PointScorer, direction_seeds, fixed_batches, landscape_2d, random_direction, shifted,
)

CHECKPOINT = ROOT / "checkpoints" / "resnet20-digits.safetensors"


def per_point_ms(model, probe, mean, std, sizes: list[int], rounds: int) -> dict[str, float]:
    """Median milliseconds per grid point: "loop" and "vmap<P>" for each P in sizes."""
    delta, eta = (random_direction(model, s) for s in direction_seeds(0))
    theta = {name: p.detach() for name, p in model.named_parameters()}

    def points(count):
        alphas, betas = torch.rand(count) * 2 - 1, torch.rand(count) * 2 - 1
        return {name: shifted(t, delta[name], alphas, eta[name], betas) for name, t in theta.items()}

    variants = {"loop": (PointScorer(model, probe, mean, std, use_vmap=False), max(sizes))}
    variants.update({f"vmap{p}": (PointScorer(model, probe, mean, std, use_vmap=True), p) for p in sizes})
    for scorer, count in variants.values():  # warm-up: allocations, kernel choices
        scorer(points(count))
    samples = {name: [] for name in variants}
    order = list(variants)
    for _ in range(rounds):
        random.Random(len(samples["loop"])).shuffle(order)
        for name in order:
            scorer, count = variants[name]
            weights = points(count)
            start = time.perf_counter()
            scorer(weights)
            samples[name].append((time.perf_counter() - start) * 1000 / count)
    return {name: statistics.median(values) for name, values in samples.items()}


def whole_landscape(model, probe, mean, std, steps: int, **options) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    result = landscape_2d(model, probe, mean, std, steps=steps, span=1.0, seed=0, **options)
    return time.perf_counter() - start, result.loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target laptop has 2 cores)")
    parser.add_argument("--steps", type=int, default=21, help="grid points per side")
    parser.add_argument("--batches", type=int, default=1, help="batches of 64 test images that estimate L")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="2,4,8,16", help="points per vmap call to try")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = load_checkpoint(CHECKPOINT)
    probe = fixed_batches(load_dataset("digits", "test", image_size=32), args.batches)
    mean, std = meta["mean"], meta["std"]
    print(f"torch: {torch.__version__}")
    print(f"threads: {torch.get_num_threads()}")
    print(f"load_average_1min: {os.getloadavg()[0]:.2f} (other work on the cores slows every variant)")
    print(f"model: {meta['model']} ({CHECKPOINT.name}), {len(probe.labels)} test images per point")

    ms = per_point_ms(model, probe, mean, std, [int(s) for s in args.sizes.split(",")], args.rounds)
    for name, value in ms.items():
        print(f"{name}_ms_per_point: {value:.1f}")
    best = min((name for name in ms if name != "loop"), key=ms.get)
    print(f"best_vmap: {best}")
    print(f"vmap_over_loop: {ms['loop'] / ms[best]:.2f}")

    grid = f"{args.steps}x{args.steps}"
    vmap_s, vmap_loss = whole_landscape(model, probe, mean, std, args.steps, points_per_call=int(best[4:]),
                                          use_vmap=True)
    loop_s, loop_loss = whole_landscape(model, probe, mean, std, args.steps, use_vmap=False)
    print(f"landscape_{grid}_s_{best}: {vmap_s:.1f}")
    print(f"landscape_{grid}_s_loop: {loop_s:.1f}")
    difference = ((vmap_loss - loop_loss).abs() / loop_loss.abs().clamp_min(1e-6)).max()
    print(f"max_relative_difference_vmap_loop: {difference:.2e}")
    fastest = min(vmap_s, loop_s)
    print(f"target_30s: {'ok' if fastest <= 30 else 'OVER'} ({fastest:.1f} s)")
    print(f"load_average_1min_after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
