"""Train a classifier from the shell, with the same engine and checkpoints as the app.

    python -m train.classifier --recipe digits-fast
    python -m train.classifier --model resnet20 --dataset shapes --epochs 5 --out runs/r20
    python -m train.classifier --recipe wrn-40-2-cifar10            # the seeds' WRN recipe
    python -m train.classifier --resume runs/r20 --epochs 10         # continue a stopped run
    python -m train.classifier --list-recipes

Writes <out>/last.safetensors (+ .state.pt for resume), best.safetensors when a validation
split is used, and <out>/metrics.csv. Ctrl-C stops cleanly and leaves a resumable checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from train import ctrl_c_stops
from cnnzoo.recipes import RECIPES
from cnnzoo.train import (OPTIMIZERS, SCHEDULES, TrainConfig, Trainer, probe_timeline, save_cam_timeline,
                          write_metrics_csv)

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), help="start from a named recipe; flags override it")
    p.add_argument("--list-recipes", action="store_true", help="print the recipes and exit")
    p.add_argument("--model")
    p.add_argument("--knobs", type=json.loads, help='model knobs as JSON, e.g. \'{"dropout": 0.3}\'')
    p.add_argument("--dataset")
    p.add_argument("--dataset-path", help="image folder or .zip for --dataset folder")
    p.add_argument("--image-size", type=int)
    p.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--gamma", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--seed", type=int)
    p.add_argument("--train-subset", type=int)
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--evals-per-epoch", type=int)
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="stop after this many seconds of training")
    p.add_argument("--out", help="output directory (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--cam-probe", type=int, metavar="INDEX",
                   help="record the CAM of test image INDEX at every epoch: <out>/cam_timeline.gif and .png")
    p.add_argument("--resume", help="run directory or checkpoint to continue")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = dict(RECIPES[args.recipe]) if args.recipe else {}
    for name in TrainConfig.__dataclass_fields__:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    config = TrainConfig.from_dict(values)
    config.out_dir = args.out or f"runs/{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return config


def progress_line(event, total_epochs: float) -> str:
    done = min(1.0, event.epoch / total_epochs) if total_epochs else 0
    bar = "#" * int(30 * done) + "-" * (30 - int(30 * done))
    parts = [f"[{bar}] epoch {event.epoch:6.2f}/{total_epochs:g}"]
    if event.train_loss is not None:
        parts.append(f"loss {event.train_loss:.4f} acc {event.train_acc:.2%}")
    if event.images_per_s:
        parts.append(f"{event.images_per_s:,.0f} img/s ETA {event.eta_s:,.0f}s lr {event.lr:.3g}")
    return "  ".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_recipes:
        for name, recipe in RECIPES.items():
            print(f"{name:20s} {json.dumps(recipe, default=list)}")
        return 0
    try:
        if args.resume:
            trainer = Trainer(TrainConfig(out_dir=args.out) if args.out else None,
                              resume_from=args.resume, epochs=args.epochs)
            if not args.out:
                trainer.config.out_dir = str(Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent)
        else:
            trainer = Trainer(config_from_args(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    out = Path(trainer.config.out_dir)
    last = None
    timeline = None
    try:
        events = trainer.run(stop)
        if args.cam_probe is not None:
            timeline = probe_timeline(trainer.config, args.cam_probe)
            events = timeline.record(events, trainer)
        with ctrl_c_stops(stop):
            for event in events:
                last = event
                if event.kind == "start":
                    print(event.message, flush=True)
                elif event.kind == "step":
                    print("\r" + progress_line(event, trainer.config.epochs), end="", flush=True)
                elif event.kind == "eval" and event.epoch == int(event.epoch):
                    val = f"  val acc {event.val_acc:.2%}" if event.val_acc is not None else ""
                    print(f"\nepoch {event.epoch:g}: test loss {event.test_loss:.4f} test acc {event.test_acc:.2%}{val}", flush=True)
    except ValueError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_metrics_csv(trainer.history, out / "metrics.csv")
    print(f"\n{last.message if last else ''}\ncheckpoint: {trainer.last_checkpoint}\nmetrics: {csv_path}")
    if timeline is not None and timeline.frames:
        strip, gif = save_cam_timeline(timeline, out, trainer.train_set.class_names)
        print(f"CAM timeline: {gif} and {strip}")
    return 1 if last is not None and last.reason == "nan" else 0


if __name__ == "__main__":
    sys.exit(main())
