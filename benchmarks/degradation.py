"""The ResNet paper's degradation problem at classroom scale: plain-20, plain-56, ResNet-20 and
ResNet-56 trained identically on built-in data, per seed.

The paper's claim (He et al. 2016, Figure 1 and Figure 6): the deeper *plain* net has the higher
*training* error (so it is not overfitting), while the deeper *residual* net is no worse than the
shallower one. Printed per model and seed: the final training error (the trained net in eval
mode on the whole training set, no augmentation), the final test error, the seconds the run
took; then, per seed, plain-56 − plain-20 and ResNet-56 − ResNet-20 in training error, and the
seconds all four took. The Train tab's degradation preset is the default setting here.

    python benchmarks/degradation.py [--seeds 0 1 2] [--epochs 12] [--image-size 16] [--lr 0.05]
                                     [--batch-size 64] [--dataset digits] [--threads 2]

Target (issue 10): all four runs of one seed in ≤ 5 minutes on 2 CPU cores, plain-56's training
error clearly above plain-20's and ResNet-56's no worse than ResNet-20's, for 3 seeds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo.trainer import TrainConfig, Trainer, final_errors  # noqa: E402
from cnnzoo.recipes import DEGRADATION_MODELS, DEGRADATION_RECIPE  # noqa: E402


def run(name: str, recipe: dict, seed: int) -> dict:
    trainer = Trainer(TrainConfig(model=name, **{**recipe, "seed": seed, "cam_probe": None}))
    started = time.perf_counter()
    for event in trainer.run():
        if event.kind == "end" and event.reason != "done":
            raise RuntimeError(f"{name} seed {seed} ended early: {event.reason} {event.message}")
    seconds = time.perf_counter() - started
    return {**final_errors(trainer), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    for field in ("dataset", "image_size", "epochs", "lr", "batch_size", "weight_decay", "schedule"):
        kind = {"dataset": str, "schedule": str, "image_size": int, "batch_size": int}.get(field, float)
        parser.add_argument(f"--{field.replace('_', '-')}", type=kind, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = {k: v for k, v in DEGRADATION_RECIPE.items()}
    recipe.update({k: getattr(args, k) for k in ("dataset", "image_size", "epochs", "lr", "batch_size",
                                                 "weight_decay", "schedule") if getattr(args, k) is not None})
    print(f"torch: {torch.__version__}  threads: {torch.get_num_threads()}")
    print("recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.items()))
    ok = True
    for seed in args.seeds:
        results = {name: run(name, recipe, seed) for name in DEGRADATION_MODELS}
        for name, r in results.items():
            print(f"seed {seed} {name:9s} train_error: {r['train']:.4f}  test_error: {r['test']:.4f}  "
                  f"seconds: {r['seconds']:.1f}")
        plain = results["plain56"]["train"] - results["plain20"]["train"]
        residual = results["resnet56"]["train"] - results["resnet20"]["train"]
        total = sum(r["seconds"] for r in results.values())
        print(f"seed {seed} plain56_minus_plain20_train: {plain:+.4f}")
        print(f"seed {seed} resnet56_minus_resnet20_train: {residual:+.4f}")
        print(f"seed {seed} all_four_seconds: {total:.1f}")
        ok &= plain > 0.01 and residual <= 0.005 and total <= 300
    print(f"degradation_shown_within_budget: {ok}")


if __name__ == "__main__":
    main()
