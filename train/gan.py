"""Train a DCGAN or WGAN from the shell, with the same engine and checkpoints as the app.

    python -m train.gan --model dcgan --dataset digits --out runs/dcgan-digits
    python -m train.gan --model wgan --dataset digits --steps 400 --out runs/wgan-digits
    python -m train.gan --model dcgan --dataset fashion-mnist --image-size 64 --width 128 --epochs 5   # the tutorial's (GPU)
    python -m train.gan --resume runs/dcgan-digits --steps 3000      # continue a stopped run

Writes the run folder (cnnzoo.runs): <out>/generator.safetensors (+ discriminator.safetensors,
generator.state.pt for resume), samples.png (the fixed-noise grid at the end), progress.gif
(that grid over training), metrics.csv and record.json. Ctrl-C stops cleanly and leaves a
resumable run. Under torchrun it trains data-parallel (the README gives the command).
"""
from __future__ import annotations

import argparse
import sys
import time

from cnnzoo.gan_trainer import GAN_DATASETS, GAN_MODELS, GANConfig, GANTrainer
from train import add_tracker_flags, progress_bar, run_cli


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
    p.add_argument("--g-noise", dest="g_noise", choices=("fresh", "same"),
                   help="DCGAN's generator step: fresh noise (default, the tutorial's code) or the D step's fakes")
    p.add_argument("--optimizer", choices=("adam", "rmsprop"),
                   help="default: the paper's (DCGAN Adam, WGAN RMSprop); --model wgan --optimizer adam tries the "
                        "paper's remark that momentum makes the critic unstable")
    p.add_argument("--steps", type=int, help="generator steps")
    p.add_argument("--epochs", type=float, help="passes over the training images (instead of --steps)")
    p.add_argument("--seed", type=int)
    p.add_argument("--sample-every", type=int, help="steps between fixed-noise grids / GIF frames")
    p.add_argument("--scorer", help="classifier checkpoint for the live score ('auto': a shipped one; 'none': off)")
    p.add_argument("--score-every", type=int)
    p.add_argument("--device", help="auto (default: the accelerator when there is one, torch.accelerator), cpu, cuda, mps or xpu")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="stop after this many seconds of training")
    p.add_argument("--out", dest="out_dir", help="output directory (default runs/<model>-<dataset>-<time>)")
    p.add_argument("--resume", help="run directory to continue")
    add_tracker_flags(p)
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> GANConfig:
    values = {name: getattr(args, name) for name in GANConfig.__dataclass_fields__
              if getattr(args, name, None) is not None}
    if values.get("scorer") == "none":
        values["scorer"] = None
    config = GANConfig.from_dict(values)
    config.out_dir = config.out_dir or f"runs/{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return config


def make_trainer(args: argparse.Namespace) -> GANTrainer:
    if args.resume:  # the run's own settings, but for what a resume may change
        return GANTrainer(resume_from=args.resume, override={name: getattr(args, name) for name in GANConfig.RESUMABLE})
    return GANTrainer(config_from_args(args))


def print_event(event) -> None:
    if event.kind == "start":
        print(event.message, flush=True)
    elif event.kind == "step":
        parts = [f"{progress_bar(event.step / event.total_steps)} step {event.step}/{event.total_steps}",
                 f"D {event.d_loss:.3f} G {event.g_loss:.3f}"]
        if event.wasserstein is not None:
            parts.append(f"W {event.wasserstein:.4f}")
        else:
            parts.append(f"D(x) {event.d_real:.2f} D(G(z)) {event.d_fake:.2f}")
        parts.append(f"{event.images_per_s:,.0f} img/s ETA {event.eta_s:,.0f}s")
        print("\r" + "  ".join(parts), end="", flush=True)
    elif event.kind == "score":
        print(f"\nstep {event.step}: {event.message}", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_cli(lambda: make_trainer(args), print_event, args)


if __name__ == "__main__":
    sys.exit(main())
