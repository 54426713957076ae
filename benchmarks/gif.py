"""How long a latent-walk GIF takes, from latent points to file: generate + grid + encode.

    python -m benchmarks.gif [--checkpoint checkpoints/dcgan-digits.safetensors] [--repeats 3] [--threads 1]

Targets on 2 CPU cores: a 64-frame walk of an 8×8 sample grid (256×256) in ≤ 2 s, of a single
sample in ≤ 0.5 s. The baseline in the same run encodes the same frames the naive way (RGB
frames through imageio, a palette computed per frame); the ratios compare it with
cnnzoo.viz.save_gif (grey frames with 16 levels). Prints `name: value` lines; the time of a
stage is the best of --repeats runs.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from cnnzoo.latent import interpolation_frames, latent_noise, load_generator
from cnnzoo.registry import create_model
from cnnzoo.viz import save_gif, temp_path

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "dcgan-digits.safetensors"


def best_of(repeats: int, fn):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if Path(args.checkpoint).exists():
        generator, _ = load_generator(args.checkpoint)
        source = args.checkpoint
    else:  # same architecture and cost as the shipped one, untrained
        torch.manual_seed(0)
        generator = create_model("dcgan_generator", image_size=32, width=20).eval()
        source = "untrained dcgan_generator(image_size=32, width=20)"
    print(f"generator: {source}")
    print(f"torch_threads: {torch.get_num_threads()}")
    d = generator.latent_dim
    results = {}
    for name, n in (("grid8x8", 64), ("single", 1)):
        z0, z1 = latent_noise(1, n, d), latent_noise(2, n, d)
        gen_s, frames = best_of(args.repeats, lambda: interpolation_frames(generator, z0, z1, args.frames, "slerp"))
        path = temp_path(f"bench-{name}-", ".gif")
        enc_s, _ = best_of(args.repeats, lambda: save_gif(frames, path, fps=16))
        total = gen_s + enc_s
        results[name] = total
        print(f"{name}_frame_size: {tuple(frames.shape[1:3])}")
        print(f"{name}_generate_s: {gen_s:.3f}")
        print(f"{name}_encode_s: {enc_s:.3f}")
        print(f"{name}_total_s: {total:.3f}")
        print(f"{name}_gif_bytes: {path.stat().st_size}")

        # Baseline: the same frames as RGB through imageio's defaults (a palette per frame).
        import imageio.v3 as iio

        rgb = np.repeat(frames.numpy(), 3, axis=3)
        base_path = temp_path(f"bench-{name}-rgb-", ".gif")
        base_s, _ = best_of(args.repeats, lambda: iio.imwrite(base_path, rgb, extension=".gif", duration=62, loop=0))
        print(f"{name}_baseline_rgb_imageio_encode_s: {base_s:.3f}")
        print(f"{name}_baseline_gif_bytes: {base_path.stat().st_size}")
        print(f"{name}_encode_speedup_vs_rgb: {base_s / enc_s:.1f}x")
        print(f"{name}_size_ratio_rgb_vs_ours: {base_path.stat().st_size / path.stat().st_size:.1f}x")
        path.unlink(), base_path.unlink()
    print(f"grid8x8_target_2s: {'PASS' if results['grid8x8'] <= 2 else 'FAIL'}")
    print(f"single_target_0.5s: {'PASS' if results['single'] <= 0.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
