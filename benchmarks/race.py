"""The Experiments tab's architecture race (cnnzoo.race) as the page runs it by default: each model's
parameters, MACs per image, training images/s, epochs, training seconds and final test accuracy,
and the seconds the whole race took (probes and evaluations included), for each seed.

    python benchmarks/race.py [--models simple_cnn resnet20 wide_resnet16_4 densenet_bc_40_k12]
                              [--budget-kind epochs] [--budget 6] [--dataset digits]
                              [--image-size 16] [--seeds 0] [--threads 2]

Measured once while building it (2-core machine, 2 threads, seed 0, the defaults): 73 s in all;
simple_cnn 99.4% in 4.3 s, resnet20 98.6% in 5.8 s, wide_resnet16_4 98.6% in 35 s,
densenet_bc_40_k12 97.2% in 17 s. With `--budget-kind seconds --budget 8`: 40 s in all.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo.race import BUDGET_KINDS, DEFAULT_MODELS, RaceConfig, plan_race, race_table, run_race  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--budget-kind", choices=BUDGET_KINDS, default="epochs")
    parser.add_argument("--budget", type=float, default=6)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{'seed':>4} {'model':<20} {'params':>11} {'MACs':>13} {'img/s':>7} {'epochs':>7} {'seconds':>8} "
          f"{'test acc':>8}  status")
    for seed in args.seeds:
        race = plan_race(RaceConfig(models=tuple(args.models), dataset=args.dataset, image_size=args.image_size,
                                    budget_kind=args.budget_kind, budget=args.budget, seed=seed))
        for _ in run_race(race):
            pass
        for r in race_table(race):
            print(f"{seed:>4} {r['model']:<20} {r['params']:>11,} {r['macs']:>13,} {r['images_per_s'] or 0:>7.0f} "
                  f"{r['epochs']:>7.2f} {r['seconds']:>8.1f} {100 * r['test_acc']:>7.2f}%  {r['status']}")
        print(f"{seed:>4} the whole race: {race.wall_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
