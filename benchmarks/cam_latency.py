"""CAM latency at batch 1, forward pass included, against the bare forward pass in the same run.

Budgets (issue 5): one 32×32 image ≤ 20 ms; one 224×224 image with resnet18_imagenet ≤ 80 ms,
on 2 CPU cores. Random weights: the cost does not depend on what the weights are.

    forward   model(x) under no_grad, eval mode: the floor
    cam       cnnzoo.cam.compute_cam (top-1): the forward pass + Σ_k w_k^c f_k
    cam_top3  three classes' maps from the same single forward pass
    cam_box   cam + bilinear upsampling to the image + a box at the paper's 20% threshold
    overlay   cnnzoo.viz.overlay_cam at 256×256 (display only, no model)

Timings are medians over interleaved rounds (every step once per round, in a shuffled order),
so a busy machine slows all of them alike and whichever step runs first after a pause (waking
the thread pool) is not always the same one: the ratios stay fair.

    python benchmarks/cam_latency.py [--threads 2] [--rounds 50]

Prints `name: value` lines; `cam_over_forward` is cam / forward (1.0 = CAM is free).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo import create_model  # noqa: E402
from cnnzoo.cam import PAPER_THRESHOLD, cam_boxes, compute_cam, upsample_cam  # noqa: E402
from cnnzoo.viz import overlay_cam  # noqa: E402

CASES = [
    # (label, model name, knobs, input side, budget in ms)
    ("simple_cnn 8x8-map 32px", "simple_cnn", dict(num_classes=10, downsample=2), 32, 20.0),
    ("simple_cnn 16x16-map 32px", "simple_cnn", dict(num_classes=10, downsample=1), 32, 20.0),
    ("resnet18_imagenet 224px", "resnet18_imagenet", dict(num_classes=1000), 224, 80.0),
]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def measure(model, x, rounds: int) -> dict[str, float]:
    def forward():
        with torch.no_grad():
            model(x)

    def cam():
        compute_cam(model, x)

    def cam_top3():
        compute_cam(model, x, top_k=3)

    def cam_box():
        result = compute_cam(model, x)
        cam_boxes(upsample_cam(result.maps[0, 0], result.input_size), PAPER_THRESHOLD)

    steps = dict(forward=forward, cam=cam, cam_top3=cam_top3, cam_box=cam_box)
    for fn in steps.values():  # warm-up: first-call allocations and kernel selection
        for _ in range(3):
            fn()
    samples = {name: [] for name in steps}
    order = list(steps)
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            samples[name].append(timed(steps[name]))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target laptop has 2 cores)")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch: {torch.__version__}")
    print(f"threads: {torch.get_num_threads()}")
    ok = True
    for label, name, knobs, side, budget in CASES:
        torch.manual_seed(0)
        model = create_model(name, **knobs).eval()
        x = torch.randn(1, 3, side, side)
        rounds = args.rounds if side <= 64 else max(10, args.rounds // 5)
        ms = measure(model, x, rounds)
        for key, value in ms.items():
            print(f"{label} {key}_ms: {value:.2f}")
        print(f"{label} cam_over_forward: {ms['cam'] / ms['forward']:.3f}")
        verdict = "ok" if ms["cam"] <= budget else "OVER"
        ok &= ms["cam"] <= budget
        print(f"{label} cam_budget_ms: {budget:g} ({verdict})")

    cam = torch.randn(8, 8)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    overlay_cam(image, cam, size=256, box=(4, 4, 20, 20))  # warm-up (imports matplotlib)
    overlay_ms = statistics.median(timed(lambda: overlay_cam(image, cam, size=256, box=(4, 4, 20, 20)))
                                   for _ in range(args.rounds))
    print(f"overlay 32px->256px_ms: {overlay_ms:.2f}")
    print(f"all_within_budget: {ok}")


if __name__ == "__main__":
    main()
