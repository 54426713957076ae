"""The Inside tab's two answers, timed against the bare forward pass in the same run.

Budgets (issue 12), on 2 CPU cores:
  activations  the whole view of one layer of a 224×224 ImageNet ResNet-50 ≤ 1 s: one forward
               pass catching the layer and every stage, 64 map tiles encoded as PNG (as gradio
               does for the gallery), the filter picture and the path figure rendered to PNG
  top_images   a channel's top 9 test images for a layer of the shipped shapes model ≤ 3 s:
               one batched pass over the 2,000 test images (cold, as the first student's
               click), then the 9 overlays

    forward      model(x) for the same picture(s), under no_grad: the floor
    view         ui.inside_tab.layer_view + PNG encoding of what it returns

Random weights for ResNet-50 (its ImageNet weights are not shipped; the cost does not depend on
the values). Medians over interleaved rounds, so a busy machine slows both alike.

    python benchmarks/inside.py [--threads 2] [--rounds 5]

Prints `name: value` lines; `*_over_forward` is view / forward (1.0 = the view is free).
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cnnzoo import create_model  # noqa: E402
from cnnzoo.compute import normalize  # noqa: E402
from cnnzoo.data import load_dataset  # noqa: E402
from cnnzoo.models.resnet import imagenet_class_names, imagenet_normalisation  # noqa: E402
from ui.cam_models import describe, load_cam_model  # noqa: E402
from ui.inside_tab import TOP_K, layer_view  # noqa: E402
from ui.inside_view import top_image_tiles  # noqa: E402
from cnnzoo.inside import channel_maxima, layer_outputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACTIVATIONS_BUDGET_S, TOP_IMAGES_BUDGET_S = 1.0, 3.0


def png_bytes(picture) -> int:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="png")
    return buffer.tell()


def render(view: dict) -> None:
    """What gradio does with the view before the browser sees it: PNG files and a PNG figure."""
    for picture, _ in view["maps"]:
        png_bytes(picture)
    if view["filters"] is not None:
        png_bytes(view["filters"])
    view["path"].savefig(io.BytesIO(), format="png")


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(steps: dict, rounds: int) -> dict[str, float]:
    for fn in steps.values():  # warm-up
        fn()
    samples = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            samples[name].append(seconds(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def activations(rounds: int) -> bool:
    torch.manual_seed(0)
    model = create_model("resnet50_imagenet", num_classes=1000).eval()
    mean, std = imagenet_normalisation()
    cm = describe(model, name="resnet50_imagenet", class_names=imagenet_class_names(), mean=mean, std=std,
                  input_size=(3, 224, 224), dataset=None, dataset_size=None, default_threshold=0.2,
                  test_accuracy=None)
    picture = torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8)
    x = normalize(picture[None], mean, std)
    ok = True
    for layer in ("conv1", "layer2.0.conv2", "layer4.2.conv3"):
        def forward():
            with torch.no_grad():
                model(x)

        times = interleaved({"forward": forward, "view": lambda: render(layer_view(cm, picture, layer, "layer"))},
                            rounds)
        within = times["view"] <= ACTIVATIONS_BUDGET_S
        ok &= within
        print(f"activations resnet50_imagenet 224px {layer} forward_s: {times['forward']:.3f}")
        print(f"activations resnet50_imagenet 224px {layer} view_s: {times['view']:.3f} "
              f"(budget {ACTIVATIONS_BUDGET_S:g} s: {'ok' if within else 'OVER'})")
        print(f"activations resnet50_imagenet 224px {layer} view_over_forward: {times['view'] / times['forward']:.2f}")
    return ok


def top_images(rounds: int) -> bool:
    cm = load_cam_model(ROOT / "checkpoints" / "simple-shapes-cam.safetensors")
    ds = load_dataset("shapes", "test")
    layer, channel = "stage3.conv2", 5

    def forward():
        with torch.no_grad():
            for part in ds.images.split(256):
                cm.model(normalize(part, cm.mean, cm.std))

    def cold():  # what the first click on a layer costs: no cache
        best = channel_maxima(cm.model, ds.images, layer, cm.mean, cm.std)
        hits = best.top(channel, TOP_K)
        indices = [i for i, _, _ in hits]
        maps = layer_outputs(cm.model, normalize(ds.images[indices], cm.mean, cm.std), [layer])[layer][:, channel]
        for picture, _ in top_image_tiles(ds.images[indices], maps, hits, ds.class_names, ds.labels):
            png_bytes(picture)

    times = interleaved({"forward": forward, "top_images": cold}, rounds)
    within = times["top_images"] <= TOP_IMAGES_BUDGET_S
    print(f"top_images shapes {len(ds)} test images {layer} forward_s: {times['forward']:.3f}")
    print(f"top_images shapes {len(ds)} test images {layer} cold_s: {times['top_images']:.3f} "
          f"(budget {TOP_IMAGES_BUDGET_S:g} s: {'ok' if within else 'OVER'})")
    print(f"top_images over_forward: {times['top_images'] / times['forward']:.2f}")
    return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target laptop has 2 cores)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch: {torch.__version__}")
    print(f"threads: {torch.get_num_threads()}")
    ok = activations(args.rounds)
    ok &= top_images(args.rounds)
    print(f"all_within_budget: {ok}")


if __name__ == "__main__":
    main()
