"""Train a DCGAN or WGAN from the shell, with the same engine and checkpoints as the app.

    python -m train.gan --model dcgan --dataset digits --out runs/dcgan-digits
    python -m train.gan --model wgan --dataset digits --steps 400 --out runs/wgan-digits
    python -m train.gan --model dcgan --dataset fashion-mnist --image-size 64 --width 128 --epochs 5   # the seed's (GPU)
    python -m train.gan --resume runs/dcgan-digits --steps 3000      # continue a stopped run

Writes <out>/generator.safetensors (+ discriminator.safetensors, generator.state.pt for
resume), <out>/samples.png (the fixed-noise grid at the end), <out>/progress.gif (that grid
over training) and <out>/metrics.csv. Ctrl-C stops cleanly and leaves a resumable run.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from train import ctrl_c_stops
from cnnzoo.gan_train import GAN_DATASETS, GAN_MODELS, GANConfig, GANTrainer, write_metrics_csv


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.gan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=GAN_MODELS)
    p.add_argument("--dataset", choices=GAN_DATASETS)
    p.add_argument("--image-size", type=int, choices=(32, 64))
    p.add_argument("--width", type=int, help="generator width (20: CPU demo, 128: the paper)")
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="default: 2e-4 (DCGAN, Adam) or 5e-5 (WGAN, RMSprop)")
    p.add_argument("--beta1", type=float)
    p.add_argument("--clip", type=float, help="WGAN weight clipping c (default 0.01)")
    p.add_argument("--n-critic", type=int, help="WGAN critic steps per generator step (default 5)")
    p.add_argument("--steps", type=int, help="generator steps")
    p.add_argument("--epochs", type=float, help="passes over the training images (instead of --steps)")
    p.add_argument("--seed", type=int)
    p.add_argument("--sample-every", type=int, help="steps between fixed-noise grids / GIF frames")
    p.add_argument("--scorer", help="classifier checkpoint for the live score ('auto': a shipped one; 'none': off)")
    p.add_argument("--score-every", type=int)
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="stop after this many seconds of training")
    p.add_argument("--out", help="output directory (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--resume", help="run directory to continue")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> GANConfig:
    values = {name: getattr(args, name) for name in GANConfig.__dataclass_fields__
              if getattr(args, name, None) is not None}
    if values.get("scorer") == "none":
        values["scorer"] = None
    config = GANConfig.from_dict(values)
    config.out_dir = args.out or f"runs/{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return config


def progress_line(event, total_steps: int) -> str:
    done = min(1.0, event.step / total_steps) if total_steps else 0
    bar = "#" * int(30 * done) + "-" * (30 - int(30 * done))
    parts = [f"[{bar}] step {event.step}/{total_steps}", f"D {event.d_loss:.3f} G {event.g_loss:.3f}"]
    if event.wasserstein is not None:
        parts.append(f"W {event.wasserstein:.4f}")
    else:
        parts.append(f"D(x) {event.d_real:.2f} D(G(z)) {event.d_fake:.2f}")
    parts.append(f"{event.images_per_s:,.0f} img/s ETA {event.eta_s:,.0f}s")
    return "  ".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.resume:
            overrides = GANConfig(out_dir=args.out, time_limit_s=args.time_limit_s)
            trainer = GANTrainer(overrides, resume_from=args.resume, steps=args.steps)
            if not args.out:
                trainer.config.out_dir = str(Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent)
        else:
            trainer = GANTrainer(config_from_args(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    out = Path(trainer.config.out_dir)
    total_steps = None
    last = None
    try:
        events = trainer.run(stop)
        with ctrl_c_stops(stop):
            for event in events:
                last = event
                if event.kind == "start":
                    total_steps = trainer.num_steps
                    print(event.message, flush=True)
                elif event.kind == "step":
                    print("\r" + progress_line(event, total_steps), end="", flush=True)
                elif event.kind == "score":
                    print(f"\nstep {event.step}: {event.message}", flush=True)
    except ValueError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_metrics_csv(trainer.history, out / "metrics.csv")
    print(f"\n{last.message if last else ''}\ncheckpoint: {trainer.last_checkpoint}\n"
          f"progress GIF: {trainer.gif_path}\nmetrics: {csv_path}")
    return 1 if last is not None and last.reason == "nan" else 0


if __name__ == "__main__":
    sys.exit(main())
