"""Images/s of one process vs N ranks under torchrun (DDP, gloo on the CPU), same run, same machine.

The same classifier run (resnet20 on the built-in shapes, 32×32 RGB, global batch 128, fp32)
trains for a fixed number of steps as one process (`python -m train.classifier`, all cores) and
as N ranks (`torchrun --nproc_per_node N`, which gives each rank 1 thread by default). Each
figure is the median images/s of the run's step events after the first (warm-up); the rounds
alternate so that the machine's noise hits both. Printed side by side with the ratio.

On a machine as small as 2 cores the ranks share the cores one process already used, and each
step adds an all-reduce of every gradient: scaling is expected to be poor. The figure is here
for honesty, and to compare machines; it is no target.

    python benchmarks/ddp.py [--ranks 2] [--steps 40] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from cnnzoo.data import dataset_info  # noqa: E402

BATCH = 128


def images_per_s(ranks: int, steps: int, out: Path) -> float:
    epochs = steps * BATCH / dataset_info("shapes")["train_size"]
    flags = ["--model", "resnet20", "--dataset", "shapes", "--batch-size", str(BATCH), "--precision", "fp32",
             "--epochs", f"{epochs:.4f}", "--evals-per-epoch", "1", "--out", str(out)]
    launcher = [sys.executable, "-m", "train.classifier"]
    if ranks > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
                    "-m", "train.classifier"]
    done = subprocess.run([*launcher, *flags], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(launcher)} failed:\n{done.stderr[-3000:]}")
    record = json.loads((out / "record.json").read_text())
    speeds = [e["images_per_s"] for e in record["events"] if e["kind"] == "step"]
    return statistics.median(speeds[1:] or speeds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    one, many = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            one.append(images_per_s(1, args.steps, Path(tmp) / f"one{r}"))
            many.append(images_per_s(args.ranks, args.steps, Path(tmp) / f"many{r}"))
    a, b = statistics.median(one), statistics.median(many)
    print(f"resnet20 on shapes 32×32, global batch {BATCH}, fp32, {args.steps} steps, {os.cpu_count()} CPU cores")
    print(f"  1 process : {a:8.0f} img/s   (rounds: {', '.join(f'{v:.0f}' for v in one)})")
    print(f"  {args.ranks} ranks   : {b:8.0f} img/s   (rounds: {', '.join(f'{v:.0f}' for v in many)})")
    print(f"  {args.ranks} ranks / 1 process: {b / a:.2f}×")


if __name__ == "__main__":
    main()
