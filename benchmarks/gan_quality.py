"""How fast do the GAN tab's defaults learn digits on this CPU? Scored offline with a classifier.

    python -m benchmarks.gan_quality [--scorer runs/digits32-scorer/last.safetensors] [--out runs/gan-quality]

DCGAN (GANConfig defaults, digits at 32×32): every ~10 s of training time, 1,000 samples are
labelled by a digits classifier (cnnzoo.quality); prints the seconds of training until all 10
classes appear among them and until the class-histogram entropy reaches 2.2 (ln 10 ≈ 2.30 is
balanced). Targets: 10 classes within 60 s, entropy ≥ 2.2 within 180 s.
WGAN (GANConfig(model="wgan") defaults): the Wasserstein estimate over 180 s of training, and
whether it falls visibly (to less than two thirds of its peak).

Training time counts only the training steps (not the scoring). Real test digits (the ceiling)
and uniform noise (the floor) are scored through the same pipeline. The sample grids are saved
as PNGs under --out: look at them. Prints `name: value` lines.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.latent import sample_grid
from cnnzoo.checkpoints import shipped
from cnnzoo.quality import load_classifier, reference_scores, score_generator
from cnnzoo.viz import save_png


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run_dcgan(args, classifier, meta, out: Path) -> dict:
    config = GANConfig(model="dcgan", steps=1_000_000, time_limit_s=args.dcgan_seconds, scorer=None,
                       sample_every=1_000_000, log_every=5, **json.loads(args.dcgan_overrides))
    trainer = GANTrainer(config)
    curve, next_check = [], args.check_every
    first_10 = first_entropy = None
    saved_60 = False
    for event in trainer.run():
        if event.kind == "start":
            print(f"dcgan_run: {event.message}", flush=True)
        if event.kind != "step" or event.train_s < next_check:
            continue
        next_check += args.check_every
        score = score_generator(trainer.generator, classifier, meta, n=args.samples)
        curve.append((event.train_s, event.step, score))
        print(f"dcgan_at: train_s={event.train_s:6.1f} step={event.step:5d} classes={score.classes_present:2d} "
              f"entropy={score.entropy:.3f} confidence={score.confidence:.3f} d_loss={event.d_loss:.3f} "
              f"g_loss={event.g_loss:.3f}", flush=True)
        if first_10 is None and score.classes_present == 10:
            first_10 = event.train_s
        if first_entropy is None and score.entropy >= 2.2:
            first_entropy = event.train_s
        if event.train_s >= 60 and not saved_60:
            save_png(sample_grid(trainer.generator, seed=0), out / "dcgan_samples_60s.png")
            saved_60 = True
    save_png(sample_grid(trainer.generator, seed=0), out / "dcgan_samples_end.png")
    steps = trainer.history[-1]["step"]
    print(f"dcgan_steps_per_s: {steps / max(1e-9, trainer.history[-1]['train_s']):.2f}")
    print(f"dcgan_seconds_to_10_classes: {first_10 if first_10 is None else round(first_10, 1)}")
    print(f"dcgan_seconds_to_entropy_2.2: {first_entropy if first_entropy is None else round(first_entropy, 1)}")
    print(f"dcgan_target_10_classes_60s: {'PASS' if first_10 is not None and first_10 <= 60 else 'FAIL'}")
    print(f"dcgan_target_entropy_180s: {'PASS' if first_entropy is not None and first_entropy <= 180 else 'FAIL'}")
    final = curve[-1][2] if curve else None
    if final:
        print(f"dcgan_final_score: {final.summary()}")
    print(f"dcgan_grids: {out / 'dcgan_samples_60s.png'} {out / 'dcgan_samples_end.png'}")
    return {"first_10": first_10, "first_entropy": first_entropy}


def run_wgan(args, classifier, meta, out: Path) -> None:
    config = GANConfig(model="wgan", steps=1_000_000, time_limit_s=args.wgan_seconds, scorer=None,
                       sample_every=1_000_000, log_every=5, **json.loads(args.wgan_overrides))
    trainer = GANTrainer(config)
    points = []
    for event in trainer.run():
        if event.kind == "start":
            print(f"wgan_run: {event.message}", flush=True)
        if event.kind == "step":
            points.append((event.train_s, event.step, event.wasserstein))
    if not points:
        print("wgan_curve: no steps")
        return
    # smooth over ~5% of the run (the estimate is noisy from batch to batch)
    window = max(1, len(points) // 20)
    smooth = [sum(w for _, _, w in points[max(0, i - window + 1):i + 1]) / len(points[max(0, i - window + 1):i + 1])
              for i in range(len(points))]
    peak_index = max(range(len(smooth)), key=smooth.__getitem__)
    peak, final = smooth[peak_index], smooth[-1]
    marks = sorted({min(len(points) - 1, round(i * (len(points) - 1) / 12)) for i in range(13)})
    for i in marks:
        print(f"wgan_at: train_s={points[i][0]:6.1f} step={points[i][1]:5d} wasserstein_smoothed={smooth[i]:.5f}")
    print(f"wgan_steps_per_s: {points[-1][1] / max(1e-9, points[-1][0]):.2f}")
    print(f"wgan_peak: {peak:.5f} at train_s={points[peak_index][0]:.1f}")
    print(f"wgan_final: {final:.5f} at train_s={points[-1][0]:.1f}")
    print(f"wgan_fall_from_peak: {(peak - final) / peak:.0%}" if peak > 0 else "wgan_fall_from_peak: n/a")
    print(f"wgan_target_visible_fall: {'PASS' if peak > 0 and final < 2 / 3 * peak else 'FAIL'}")
    score = score_generator(trainer.generator, classifier, meta, n=args.samples)
    print(f"wgan_final_score: {score.summary()}")
    save_png(sample_grid(trainer.generator, seed=0), out / "wgan_samples_end.png")
    print(f"wgan_grid: {out / 'wgan_samples_end.png'}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scorer", help="digits classifier checkpoint (default: a shipped checkpoints/digits-*)")
    p.add_argument("--out", default="runs/gan-quality")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--check-every", type=float, default=10.0, help="seconds of training between scores")
    p.add_argument("--dcgan-seconds", type=float, default=180.0)
    p.add_argument("--wgan-seconds", type=float, default=180.0)
    p.add_argument("--skip-dcgan", action="store_true")
    p.add_argument("--skip-wgan", action="store_true")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--dcgan-overrides", default="{}", help='GANConfig fields as JSON, e.g. \'{"width": 16}\'')
    p.add_argument("--wgan-overrides", default="{}")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    scorer = Path(args.scorer) if args.scorer else next(iter(shipped("classifier", dataset="digits")), None)
    if scorer is None:
        raise SystemExit("no digits classifier found in checkpoints/; train one with\n  python -m train.classifier "
                         "--recipe digits-fast --image-size 32 --out runs/digits32-scorer\nand pass --scorer "
                         "runs/digits32-scorer/last.safetensors")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"load_average_at_start: {load_average()}")
    print(f"torch_threads: {torch.get_num_threads()}")
    print(f"scorer: {scorer}")
    classifier, meta = load_classifier(scorer)
    for name, score in reference_scores(classifier, meta, "digits", image_size=32, n=args.samples).items():
        print(f"reference_{name}: {score.summary()}")
    started = time.perf_counter()
    if not args.skip_dcgan:
        run_dcgan(args, classifier, meta, out)
    if not args.skip_wgan:
        run_wgan(args, classifier, meta, out)
    print(f"load_average_at_end: {load_average()}")
    print(f"wall_s: {time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
