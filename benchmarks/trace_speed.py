"""How much the shape tracer costs over a bare forward pass: ResNet-152 at 3×224×224 on CPU.

The tracer runs the real forward pass under FlopCounterMode, a TorchFunctionMode and a hook
on every module, so trace / forward is its overhead. Median of 3 interleaved rounds after one warm-up
each, as wall time and as this process's CPU time; also the meta-device trace the Shapes tab
uses (no memory, no arithmetic). Prints `name: value` lines, the wall-time ratio last.

    python benchmarks/trace_speed.py [--threads 1]

On a machine shared with other jobs, two-thread kernels wait for each other's descheduled
thread and the wall times swing; --threads 1 gives steadier numbers.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo import create_model, trace  # noqa: E402

MODEL, INPUT = "resnet152_imagenet", (3, 224, 224)
RUNS = 3


def seconds(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads): on a machine shared with
    other jobs the wall time swings with their load; the CPU time is the work itself."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, = cores)")
    threads = parser.parse_args().threads
    if threads:
        torch.set_num_threads(threads)
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
    wall = {name: statistics.median(w for w, _ in t) for name, t in times.items()}
    cpu = {name: statistics.median(c for _, c in t) for name, t in times.items()}

    print(f"torch_threads: {torch.get_num_threads()}")
    for name in runs:
        print(f"{MODEL}_224_{name}_wall_runs_s: {', '.join(f'{w:.3f}' for w, _ in times[name])}")
    for name in runs:
        print(f"{MODEL}_224_{name}_wall_s: {wall[name]:.3f}")
        print(f"{MODEL}_224_{name}_process_cpu_s: {cpu[name]:.3f}")
    print(f"trace_over_forward_process_cpu: {cpu['trace_cpu'] / cpu['forward_cpu']:.2f}")
    print(f"trace_over_forward: {wall['trace_cpu'] / wall['forward_cpu']:.2f}")


if __name__ == "__main__":
    main()
