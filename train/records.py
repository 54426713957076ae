"""Make the run records shipped in checkpoints/records/ (what the tabs replay; cnnzoo.replay).

    python -m train.records                     # all of them (about 15 minutes on 2 CPU cores)
    python -m train.records --only degradation  # one

Each record is a run of the command its checkpoint's card gives (or, for runs shipped without
weights, of the recipe named here), packed by cnnzoo.replay.pack_record: record.json, its
pictures, metrics.csv. A record whose run made a shipped checkpoint points at that file; the
shipped weights are the run's own where the card says so: trained in fp32, the command reproduces them bit
for bit in fp32 (--precision fp32, which a CPU with native bf16 would not pick by itself) on the
same kind of CPU. The degradation record is the Experiments tab's four runs, with their final
errors in its group.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cnnzoo.files import atomic_write
from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.recipes import DEGRADATION_MODELS, DEGRADATION_RECIPE, RECIPES
from cnnzoo.replay import pack_record
from cnnzoo.trainer import TrainConfig, Trainer, final_errors

ROOT = Path(__file__).resolve().parent.parent
RECORDS, CHECKPOINTS = ROOT / "checkpoints" / "records", ROOT / "checkpoints"

# name: (title, what trains, the shipped weights it made, or None; "copy": its own weights go into the record)
CLASSIFIERS = {
    "train-default": ("the Train tab's default run: simple_cnn on digits, recipe digits-fast",
                      dict(RECIPES["digits-fast"], cam_probe=0), "copy"),
    "resnet20-digits": ("resnet20 on digits (the shipped checkpoint's run)", dict(RECIPES["resnet20-digits"], precision="fp32"),
                        "resnet20-digits.safetensors"),
    "simple-shapes-cam": ("simple_cnn on shapes: the CAM tab's shipped model (its own run)",
                          dict(RECIPES["shapes-cam"], precision="fp32"), "simple-shapes-cam.safetensors"),
    # Not the shipped weights' own run: they were trained on an Intel CPU, whose fp32 rounds otherwise (its card).
    "plain20-digits": ("plain20 on digits (a re-run of the shipped checkpoint's recipe)",
                       dict(RECIPES["plain20-digits"], precision="fp32"), None),
}
GANS = {
    "dcgan-digits": ("DCGAN on digits (the shipped generator's run)",
                     dict(model="dcgan", dataset="digits", steps=3000, g_noise="same", scorer="auto", score_every=500),
                     "dcgan-digits.safetensors"),
    "wgan-digits": ("WGAN on digits, the GAN tab's defaults (weights not shipped)",
                    dict(model="wgan", dataset="digits", scorer="auto"), None),
}


def make_run(name: str, work: Path) -> None:
    """Train record `name` (a classifier of CLASSIFIERS or a GAN of GANS) in `work`, then pack it."""
    config_type, trainer_type = (TrainConfig, Trainer) if name in CLASSIFIERS else (GANConfig, GANTrainer)
    title, settings, weights = {**CLASSIFIERS, **GANS}[name]
    for _ in trainer_type(config_type(**settings, out_dir=str(work / name))).run():
        pass
    shipped = CHECKPOINTS / weights if weights not in (None, "copy") else None
    pack_record(work / name, RECORDS / name, weights=shipped, title=title, copy_weights=weights == "copy")


def make_degradation(work: Path) -> None:
    """The four runs of the Experiments tab's degradation section, and their final errors."""
    folder, results, runs = RECORDS / "degradation", {}, []
    for k, model in enumerate(DEGRADATION_MODELS):
        trainer = Trainer(TrainConfig(model=model, **DEGRADATION_RECIPE, cam_probe=0, out_dir=str(work / model)))
        started = time.perf_counter()
        for _ in trainer.run():
            pass
        results[model] = {**final_errors(trainer), "seconds": time.perf_counter() - started}
        runs.append(f"{k + 1}-{model}")
        pack_record(work / model, folder / runs[-1], title=f"{model} (degradation, seed {DEGRADATION_RECIPE['seed']})")
    group = {"title": f"degradation: plain-20/56 and ResNet-20/56 on digits (seed {DEGRADATION_RECIPE['seed']})",
             "runs": runs, "final_errors": results}
    atomic_write(folder / "group.json", json.dumps(group, indent=1))


def main(argv=None) -> int:
    names = [*CLASSIFIERS, *GANS, "degradation"]
    p = argparse.ArgumentParser(prog="python -m train.records", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=names, action="append", help="make only these records")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or names:
            print(f"recording {name}…", flush=True)
            if name == "degradation":
                make_degradation(Path(tmp))
            else:
                make_run(name, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
