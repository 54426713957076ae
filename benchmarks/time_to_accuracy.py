"""Seconds from pressing Train to a target test accuracy, with the Train tab's defaults.

The Train tab's defaults are the `digits-fast` recipe (cnnzoo/recipes.py). The clock starts
when the run starts (the built-in dataset is already generated/cached, as it is after the first
click) and stops at the first evaluation at or above the target; evaluations themselves are
inside the clock, as they are for a person watching the curve. Median over seeds.

    python benchmarks/time_to_accuracy.py                          # digits, 98%, 3 seeds
    python benchmarks/time_to_accuracy.py --dataset shapes --target 0.95
    python benchmarks/time_to_accuracy.py --dataset shapes --model resnet20 --target 0.95 --budget 300

Prints `name: value` lines; the last line is the median seconds to the target.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo.data import load_dataset  # noqa: E402
from cnnzoo.recipes import RECIPES  # noqa: E402
from cnnzoo.trainer import TrainConfig, Trainer  # noqa: E402


def seconds_to_target(config: TrainConfig, target: float, budget_s: float) -> tuple[float | None, float]:
    """(seconds until test accuracy >= target or None, best accuracy seen)."""
    best, started = 0.0, time.perf_counter()
    for event in Trainer(config).run():
        if event.kind == "eval":
            best = max(best, event.test_acc)
            if event.test_acc >= target:
                return time.perf_counter() - started, best
        if time.perf_counter() - started > budget_s:
            break
    return None, best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="digits-fast")
    p.add_argument("--dataset")
    p.add_argument("--model")
    p.add_argument("--epochs", type=float)
    p.add_argument("--target", type=float, default=0.98)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=120, help="give up on a seed after this many seconds")
    args = p.parse_args(argv)
    recipe = dict(RECIPES[args.recipe])
    for name in ("dataset", "model", "epochs"):
        if getattr(args, name) is not None:
            recipe[name] = getattr(args, name)
    load_dataset(recipe["dataset"], "train")  # generate / cache once, outside the clock
    load_dataset(recipe["dataset"], "test")
    times = []
    for seed in range(args.seeds):
        config = TrainConfig(**{**recipe, "seed": seed})
        t, best = seconds_to_target(config, args.target, args.budget)
        print(f"seed {seed}: seconds to {args.target:.0%}: {'not reached' if t is None else f'{t:.1f}'} (best {best:.2%})", flush=True)
        times.append(float("inf") if t is None else t)
    print(f"config: {recipe}")
    median = statistics.median(times)
    print(f"{recipe['model']} on {recipe['dataset']}, median seconds to {args.target:.0%}: {median:.1f}")


if __name__ == "__main__":
    main()
