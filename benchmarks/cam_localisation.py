"""CAM localisation on the shapes test set: GAP vs GMP heads, 8×8 vs 16×16 final maps, thresholds.

The paper's measure (Zhou et al. 2016, Table 2 / Section 3.1): an image counts when the class
is right AND the box of the predicted class's map (upsampled to the image, thresholded at a
fraction t of the map — min + t·(max − min), as the authors' released code applies "20% of the
max value" to the min-max normalised map — the largest connected region's box) has IoU >= 0.5
with the true box. The paper used 20% for all its nets (13×13 and 14×14 maps of 224-pixel
images); here we measure a range of thresholds for four small nets trained the same way on
shapes (32×32):

    simple_cnn, width 32, 8 epochs, SGD lr 0.05 one-cycle, batch 64, seed 0
      avg_8   pool="avg", downsample=2 -> 8×8 final map      (GAP, as the paper)
      max_8   pool="max", downsample=2 -> 8×8                (GMP, the paper's comparison)
      avg_16  pool="avg", downsample=1 -> 16×16
      max_16  pool="max", downsample=1 -> 16×16

Checkpoints go to runs/cam_localisation/<name>/last.safetensors and are reused when present
(--retrain to train again; each run takes a few minutes on 2 CPU cores, far less on a GPU).

    python benchmarks/cam_localisation.py [--runs runs/cam_localisation] [--retrain] [--mode largest|all]

The table marks the paper's 0.2 with "paper" and each column's best threshold on the test set
with "*". The default threshold to ship is chosen on a separate validation set (1,000 other
shapes scenes, seed 1) and then read off the test set, so it is not tuned on the test images.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo.cam import PAPER_THRESHOLD, localisation_accuracy  # noqa: E402
from cnnzoo.checkpoints import load_checkpoint  # noqa: E402
from cnnzoo.data import load_dataset  # noqa: E402
from cnnzoo.compute import pick_device  # noqa: E402
from cnnzoo.trainer import TrainConfig, Trainer  # noqa: E402

NETS = {  # name -> (pool, downsample)
    "avg_8": ("avg", 2),
    "max_8": ("max", 2),
    "avg_16": ("avg", 1),
    "max_16": ("max", 1),
}
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(2, 17))  # 0.10 ... 0.80


def train_config(name: str, out_dir: Path) -> TrainConfig:
    pool, downsample = NETS[name]
    return TrainConfig(model="simple_cnn", knobs={"downsample": downsample, "pool": pool}, dataset="shapes",
                       epochs=8, batch_size=64, lr=0.05, schedule="onecycle", out_dir=str(out_dir))


def trained_model(name: str, runs: Path, retrain: bool):
    checkpoint = runs / name / "last.safetensors"
    if retrain or not checkpoint.exists():
        trainer = Trainer(train_config(name, runs / name))
        for event in trainer.run():
            if event.kind == "eval" and event.epoch == int(event.epoch):
                print(f"# {name}: epoch {event.epoch:g} test accuracy {event.test_acc:.1%}", flush=True)
    model, meta = load_checkpoint(checkpoint)
    return model, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=Path("runs/cam_localisation"))
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--mode", choices=("largest", "all"), default="largest")
    parser.add_argument("--connectivity", type=int, choices=(4, 8), default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device("auto")
    test = load_dataset("shapes", "test")
    validation = load_dataset("shapes", "test", seed=1, num_images=1000)  # other scenes, same distribution

    results, picked = {}, {}
    for name in NETS:
        model, meta = trained_model(name, args.runs, args.retrain)
        model.to(device)
        options = dict(mode=args.mode, connectivity=args.connectivity, mean=meta["mean"], std=meta["std"])
        start = time.perf_counter()
        results[name] = localisation_accuracy(model, test, THRESHOLDS, **options)
        seconds = time.perf_counter() - start
        print(f"# {name}: {len(test)} images × {len(THRESHOLDS)} thresholds in {seconds:.1f} s on {device}")
        picked[name] = localisation_accuracy(model, validation, THRESHOLDS, **options).best_threshold

    print(f"\nLocalisation accuracy (class right AND IoU >= 0.5), shapes test set ({len(test)} images), "
          f"box = {args.mode} region ({args.connectivity}-connected)")
    names = list(NETS)
    header = "threshold  " + "  ".join(f"{n:>9}" for n in names)
    print(header)
    for i, t in enumerate(THRESHOLDS):
        cells = []
        for n in names:
            r = results[n]
            mark = "*" if t == r.best_threshold else " "
            cells.append(f"{r.accuracy[i]:8.1%}{mark}")
        tag = "  paper" if t == PAPER_THRESHOLD else ""
        print(f"{t:9.2f}  " + "  ".join(cells) + tag)
    print("classify   " + "  ".join(f"{results[n].classification_accuracy:8.1%} " for n in names))
    paper_i = THRESHOLDS.index(PAPER_THRESHOLD)
    print("area@0.2   " + "  ".join(f"{results[n].area_ratio[paper_i]:8.2f}x" for n in names)
          + "  (median predicted / true box area)")
    print("\nname: value")
    for n in names:
        r = results[n]
        best_i = THRESHOLDS.index(r.best_threshold)
        print(f"{n} classification_accuracy: {r.classification_accuracy:.4f}")
        print(f"{n} localisation_at_paper_0.2: {r.accuracy[paper_i]:.4f}")
        print(f"{n} box_area_ratio_at_paper_0.2: {r.area_ratio[paper_i]:.2f}")
        print(f"{n} best_threshold: {r.best_threshold:.2f}")
        print(f"{n} localisation_at_best: {r.accuracy[best_i]:.4f}")
        print(f"{n} box_area_ratio_at_best: {r.area_ratio[best_i]:.2f}")
        print(f"{n} mean_iou_at_best: {r.mean_iou[best_i]:.3f}")
        print(f"{n} threshold_picked_on_validation: {picked[n]:.2f}")
        print(f"{n} localisation_at_picked: {r.at(picked[n]):.4f}")


if __name__ == "__main__":
    main()
