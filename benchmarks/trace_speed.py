"""How much the shape tracer costs over a bare forward pass: ResNet-152 at 3×224×224 on CPU.

The tracer runs the real forward pass under FlopCounterMode, a TorchFunctionMode and a hook
on every module, so trace / forward is its overhead. Median of 3 after one warm-up each; also
the meta-device trace the Shapes tab uses (no memory, no arithmetic). Prints `name: value`
lines, the ratio last.

    python benchmarks/trace_speed.py
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo import create_model, trace  # noqa: E402

MODEL, INPUT = "resnet152_imagenet", (3, 224, 224)
RUNS = 3


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    model = create_model(MODEL, num_classes=1000).eval()
    image = torch.zeros(1, *INPUT)  # the same input trace() builds
    with torch.device("meta"):
        meta_model = create_model(MODEL, num_classes=1000)

    def forward():
        with torch.no_grad():
            model(image)

    runs = {
        "trace_cpu": lambda: trace(model, INPUT),
        "forward_cpu": forward,
        "trace_meta": lambda: trace(meta_model, INPUT, device="meta"),
    }
    for fn in runs.values():  # warm-up: first-call allocations, kernel selection
        fn()
    # Interleaved rounds, so a machine shared with other jobs slows all three alike.
    times = {name: [] for name in runs}
    for _ in range(RUNS):
        for name, fn in runs.items():
            times[name].append(seconds(fn))
    median = {name: statistics.median(t) for name, t in times.items()}

    print(f"torch_threads: {torch.get_num_threads()}")
    for name, t in times.items():
        print(f"{MODEL}_224_{name}_runs_s: {', '.join(f'{x:.3f}' for x in t)}")
    print(f"{MODEL}_224_trace_cpu_s: {median['trace_cpu']:.3f}")
    print(f"{MODEL}_224_forward_cpu_s: {median['forward_cpu']:.3f}")
    print(f"{MODEL}_224_trace_meta_s: {median['trace_meta']:.3f}")
    print(f"trace_over_forward: {median['trace_cpu'] / median['forward_cpu']:.2f}")


if __name__ == "__main__":
    main()
