"""Pictures of tensors: image grids, PNGs and animated GIFs.

    grid = make_grid(generator(z))            # (N, C, H, W) in [-1, 1] -> uint8 (H', W', C)
    save_png(grid, "samples.png")
    save_gif(frames, "progress.gif", fps=10)  # frames: uint8 (T, H, W, C), e.g. stacked grids

Conventions: images as they come out of models are (N, C, H, W), either uint8 (0..255, as the
datasets hold them) or float in `value_range` ((-1, 1) for a tanh generator). Pictures for
people are uint8 (H, W, C), the layout of numpy, PIL and imageio.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from cnnzoo.files import temp_path


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """(N, C, H, W) uint8, or float in value_range -> uint8 (N, C, H, W) on the CPU.

    Float values are mapped linearly, lo -> 0 and hi -> 255, and clamped; uint8 passes as is.
    """
    images = images.detach()
    if images.dtype == torch.uint8:
        return images.cpu()
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float, got {images.dtype}")
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range!r}")
    scaled = (images.float().cpu() - lo) * (255.0 / (hi - lo))
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


# How sample grids are drawn for people (cnnzoo.latent, the GAN progress grid): 2-pixel
# dark-grey lines keep digits that fill their frame apart; without them an 8×8 grid of samples
# reads as stripes (looked at). An 8×8 grid of 32×32 samples is then 274×274 pixels.
SAMPLE_GRID_STYLE = dict(padding=2, pad_value=64)


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 0, pad_value: int = 0,
              value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Tile (N, C, H, W) images into one uint8 picture (rows·(H+p)+p, nrow·(W+p)+p, C).

    nrow images per row (default: a square, ceil(sqrt(N))); cells left over at the end stay
    pad_value. With padding 0 an 8×8 grid of 32×32 images is exactly 256×256.
    grid_index maps a pixel back to the image under it.
    """
    if images.dim() != 4:
        raise ValueError(f"make_grid expects images of shape (N, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    nrow = min(n, nrow or math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    pixels = to_uint8(images, value_range)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding),
                      pad_value, dtype=torch.uint8)
    for i in range(n):
        top, left = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        grid[:, top:top + h, left:left + w] = pixels[i]
    return grid.permute(1, 2, 0).contiguous()  # (C, H', W') -> (H', W', C)


def grid_index(y: int, x: int, n: int, image_size: int, nrow: int | None = None, padding: int = 2) -> int | None:
    """Which of the n images of make_grid(..., nrow, padding) lies under pixel (y, x), or None
    (a padding line or an empty cell): for picking samples from a grid with the mouse."""
    nrow = min(n, nrow or math.ceil(math.sqrt(n)))
    cell = image_size + padding
    row, dy = divmod(int(y) - padding, cell)
    col, dx = divmod(int(x) - padding, cell)
    if min(row, col, dy, dx) < 0 or dy >= image_size or dx >= image_size or col >= nrow:
        return None
    index = row * nrow + col
    return index if index < n else None


def to_pil(picture):
    """A uint8 (H, W, C) picture (C = 1 or 3) as a PIL image ("L" or "RGB")."""
    from PIL import Image

    array = np.asarray(picture.numpy() if isinstance(picture, torch.Tensor) else picture, dtype=np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def save_png(picture, path: str | os.PathLike) -> Path:
    """Write a uint8 (H, W, C) picture as a PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(picture).save(path, format="PNG")
    return path


def save_gif(frames, path: str | os.PathLike | None = None, fps: float = 10.0, grey_levels: int = 16,
             loop: bool = True) -> Path:
    """Encode uint8 frames (T, H, W, C) with C = 1 or 3 (or (T, H, W) grey) as an animated GIF.

    A GIF holds at most 256 colours per frame. Grey frames are stored as grey with
    `grey_levels` evenly spaced levels (16 by default) and a palette of just those levels:
    4-bit codes instead of 8, and longer runs for the LZW coder. Measured on a 64-frame
    256×256 walk between two grids of digits: 0.33 MB instead of 3.5 MB, in ~0.3 s, with
    banding hard to see on GAN samples. Colour frames share one palette computed once from a
    few frames; letting the encoder compute a palette per frame was ~5× slower. Pillow stores
    only the changed rectangle of each frame, and a frame identical to the one before as a
    longer display of that one (so such a GIF has fewer frames than given, same play time).
    Returns the path (a new temp file when path is None).
    """
    from PIL import Image

    array = np.asarray(frames.numpy() if isinstance(frames, torch.Tensor) else np.stack(list(frames)))
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[3] not in (1, 3) or len(array) == 0:
        raise ValueError(f"frames must be uint8 of shape (T, H, W, 1 or 3) with T >= 1, got {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {array.dtype}; convert with to_uint8 / make_grid")
    if not 2 <= grey_levels <= 256:
        raise ValueError(f"grey_levels must be from 2 to 256, got {grey_levels}")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = Path(path) if path is not None else temp_path("anim-", ".gif")
    path.parent.mkdir(parents=True, exist_ok=True)

    if array.shape[3] == 1:
        step = 255 / (grey_levels - 1)  # snap every pixel to the nearest of the levels
        grey = (np.round(np.round(array[..., 0] / step) * step)).astype(np.uint8)
        images = [Image.fromarray(frame) for frame in grey]  # 2-D uint8 -> mode "L"
    else:
        # One palette for the whole animation, from up to 8 frames spread over it (stacked).
        sample = array[np.linspace(0, len(array) - 1, min(8, len(array))).round().astype(int)]
        palette = Image.fromarray(np.concatenate(list(sample), axis=0)).quantize(256, method=Image.Quantize.MEDIANCUT)
        images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in array]
    looping = {"loop": 0} if loop else {}  # loop=0: forever; no key: play once
    # optimize: Pillow shrinks the palette to the colours in use (what makes grey GIFs small).
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), optimize=array.shape[3] == 1, **looping)
    return path
