"""Train a classifier from the shell, with the same engine and checkpoints as the app.

    python -m train.classifier --recipe digits-fast
    python -m train.classifier --model resnet20 --dataset shapes --epochs 5 --out runs/r20
    python -m train.classifier --recipe wrn-40-2-cifar10-paper      # the WRN paper's recipe (Nesterov)
    python -m train.classifier --resume runs/r20 --epochs 10         # continue a stopped run
    python -m train.classifier --list-recipes

Writes the run folder (cnnzoo.runs): <out>/last.safetensors (+ last.state.pt for resume),
best.safetensors when a validation split is used, metrics.csv, record.json, and with
--cam-probe the CAM timeline (cam_timeline.gif and .png). Ctrl-C stops cleanly and leaves a
resumable checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from cnnzoo.recipes import RECIPES, SOURCES
from cnnzoo.trainer import OPTIMIZERS, SCHEDULES, TrainConfig, Trainer
from train import add_tracker_flags, progress_bar, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), help="start from a named recipe; flags override it")
    p.add_argument("--list-recipes", action="store_true", help="print the recipes and exit")
    p.add_argument("--model")
    p.add_argument("--knobs", type=json.loads, help='model knobs as JSON, e.g. \'{"dropout": 0.3}\'')
    p.add_argument("--dataset")
    p.add_argument("--dataset-path", help="image folder or .zip for --dataset folder")
    for flag, kind in [("--image-size", int), ("--epochs", float), ("--batch-size", int), ("--lr", float),
                       ("--momentum", float), ("--weight-decay", float), ("--gamma", float), ("--warmup-epochs", float),
                       ("--label-smoothing", float), ("--seed", int), ("--train-subset", int),
                       ("--val-fraction", float), ("--evals-per-epoch", int)]:
        p.add_argument(flag, type=kind)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--device", help="auto (default: the accelerator when there is one, torch.accelerator), cpu, cuda, mps or xpu")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="the training step's format; auto (default): bf16 where this CPU computes it natively and it "
                        "measured faster (cnnzoo.precision), mixed precision on CUDA")
    p.add_argument("--sync-batchnorm", action=argparse.BooleanOptionalAction, default=None,
                   help="under torchrun: BatchNorm statistics over every rank's shard (SyncBatchNorm; GPUs only)")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="stop after this many seconds of training")
    p.add_argument("--out", dest="out_dir", help="output directory (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--cam-probe", type=int, metavar="INDEX",
                   help="record the CAM of test image INDEX at every epoch: <out>/cam_timeline.gif and .png")
    p.add_argument("--resume", help="run directory or checkpoint to continue")
    add_tracker_flags(p)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = dict(RECIPES[args.recipe]) if args.recipe else {}
    values.update({name: getattr(args, name) for name in TrainConfig.__dataclass_fields__
                   if getattr(args, name, None) is not None})
    config = TrainConfig.from_dict(values)
    config.out_dir = config.out_dir or f"runs/{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return config


def make_trainer(args: argparse.Namespace) -> Trainer:
    if args.resume:  # the run's own settings, but for what a resume may change
        override = {name: getattr(args, name) for name in TrainConfig.RESUMABLE}
        return Trainer(resume_from=args.resume, override=override)
    return Trainer(config_from_args(args))


def print_event(event) -> None:
    if event.kind == "start":
        print(event.message, flush=True)
    elif event.kind == "step":
        total_epochs = event.total_steps * event.epoch / event.step
        parts = [f"{progress_bar(event.step / event.total_steps)} epoch {event.epoch:6.2f}/{round(total_epochs, 1):g}",
                 f"loss {event.train_loss:.4f} acc {event.train_acc:.2%}",
                 f"{event.images_per_s:,.0f} img/s ETA {event.eta_s:,.0f}s lr {event.lr:.3g}"]
        print("\r" + "  ".join(parts), end="", flush=True)
    elif event.kind == "eval" and event.epoch == int(event.epoch):
        val = f"  val acc {event.val_acc:.2%}" if event.val_acc is not None else ""
        print(f"\nepoch {event.epoch:g}: test loss {event.test_loss:.4f} test acc {event.test_acc:.2%}{val}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_recipes:
        for name, recipe in RECIPES.items():  # the name and its source, then its settings
            print(f"{name:24s} {SOURCES[name]}\n{'':24s} {json.dumps(recipe, default=list)}")
        return 0
    return run_cli(lambda: make_trainer(args), print_event, args)


if __name__ == "__main__":
    sys.exit(main())
