"""Pictures for people: image grids, CAM overlays with boxes, captions, PNGs and animated GIFs.

    grid = make_grid(generator(z))            # (N, C, H, W) in [-1, 1] -> uint8 (H', W', C)
    save_png(grid, "samples.png")
    save_gif(frames, "progress.gif", fps=10)  # frames: uint8 (T, H, W, C), e.g. stacked grids
    picture = overlay_cam(image, result.maps[0, 0], box=boxes[0], size=192)
    save_png(side_by_side([caption_below(picture, "cat 93%"), ...]), "cams.png")

Conventions: images as they come out of models are (N, C, H, W), either uint8 (0..255, as the
datasets hold them) or float in `value_range` ((-1, 1) for a tanh generator). Pictures for
people are uint8 (H, W, C), the layout of numpy, PIL and imageio.
"""
from __future__ import annotations

import io
import math
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from cnnzoo.cam.maps import normalize_cam, upsample_cam
from cnnzoo.files import atomic_write, temp_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PREDICTED_BOX_COLOR = (255, 255, 255)  # white: visible on jet and inferno alike
TRUE_BOX_COLOR = (0, 255, 0)  # green, as the paper's ground-truth boxes


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

    Not torchvision.utils.make_grid: that one turns grey (N, 1, H, W) images into RGB, and
    grey grids are what lets save_gif store GAN walks with a 16-level grey palette.
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


def enlarge(picture, scale: int):
    """A uint8 (H, W[, C]) picture `scale`× larger by whole pixels: (scale·H, scale·W[, C]).

    Each pixel becomes a scale × scale block (nearest neighbour), so small images stay sharp
    and a click on the enlarged picture maps back to one pixel. numpy in, numpy out; a
    tensor in, a tensor out.
    """
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale!r}")
    if scale == 1:
        return picture
    if isinstance(picture, torch.Tensor):
        return picture.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return np.asarray(picture).repeat(scale, 0).repeat(scale, 1)


def whole_scale(side: int, min_side: int) -> int:
    """The smallest whole factor that makes `side` pixels at least `min_side` (1 if already)."""
    return max(1, math.ceil(min_side / side))


def side_by_side(pictures, gap: int = 2) -> np.ndarray:
    """Same-size uint8 (H, W, C) pictures in one row, `gap` black pixels around each:
    uint8 (H + 2·gap, n·(W + gap) + gap, C). A make_grid with one row."""
    arrays = [np.asarray(p.numpy() if isinstance(p, torch.Tensor) else p) for p in pictures]
    if not arrays or any(a.ndim != 3 or a.shape != arrays[0].shape or a.dtype != np.uint8 for a in arrays):
        raise ValueError(f"side_by_side needs one or more uint8 (H, W, C) pictures of one size, got "
                         f"{[f'{a.dtype} {a.shape}' for a in arrays]}; enlarge or crop them to one size first")
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # (n, C, H, W)
    return make_grid(images, nrow=len(arrays), padding=gap).numpy()


def to_pil(picture):
    """A uint8 (H, W, C) picture (C = 1 or 3) as a PIL image ("L" or "RGB")."""
    array = np.asarray(picture.numpy() if isinstance(picture, torch.Tensor) else picture, dtype=np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def png_bytes(picture, compress_level: int = 6) -> bytes:
    """A uint8 (H, W, C) picture encoded as a PNG file's bytes. compress_level 1 encodes ~3× faster
    than the default 6, a little larger: for live redraws."""
    buffer = io.BytesIO()
    to_pil(picture).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def save_png(picture, path: str | os.PathLike, compress_level: int = 6) -> Path:
    """Write a uint8 (H, W, C) picture as a PNG (png_bytes), atomically (a web server sending the
    file at that moment sends the old one or the new one, never half of one); returns the path."""
    return atomic_write(path, png_bytes(picture, compress_level), durable=False)


def save_gif(frames, path: str | os.PathLike | None = None, fps: float = 10.0, grey_levels: int = 16,
             loop: bool = True) -> Path:
    """Write gif_bytes(frames, fps, grey_levels, loop) to `path` atomically (a browser never gets
    half a GIF); returns the path (a new temp file when path is None)."""
    data = gif_bytes(frames, fps, grey_levels, loop)
    path = Path(path) if path is not None else temp_path("anim-", ".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, data, durable=False)


def gif_bytes(frames, fps: float = 10.0, grey_levels: int = 16, loop: bool = True) -> bytes:
    """Encode uint8 frames (T, H, W, C) with C = 1 or 3 (or (T, H, W) grey) as an animated GIF.

    A GIF holds at most 256 colours per frame. Grey frames are stored as grey with
    `grey_levels` evenly spaced levels (16 by default) and a palette of just those levels:
    longer runs for the LZW coder, and each frame after the first keeps only the pixels that changed.
    Measured on a 64-frame 274×274 walk between two grids of digits: 0.37 MB (3.5 MB as 256
    greys), in 0.05 s (0.23 s with Pillow finding the changes itself), with banding hard to see on
    GAN samples. Colour frames share one palette computed once from a
    few frames; letting the encoder compute a palette per frame was ~5× slower. Pillow stores
    only the changed rectangle of each frame, and a frame identical to the one before as a
    longer display of that one (so such a GIF has fewer frames than given, same play time).
    Returns the GIF file's bytes.
    """
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
    if array.shape[3] == 1:
        step = 255 / (grey_levels - 1)  # snap every pixel to the nearest of the levels
        codes = np.round(array[..., 0] / step).astype(np.uint8)  # (T, H, W): each pixel's level
        # A frame after the first marks what did not change with one more index, transparent: the
        # frame before shows through (disposal 1), and those runs cost the LZW coder next to nothing.
        # (Pillow's optimize=True finds the same pixels itself, ~5× slower.) The first frame names
        # no transparency, so readers (imageio, Pillow) give every frame as RGB.
        # A frame identical to the one before lengthens that one's display instead.
        same = grey_levels
        palette = [v for i in range(grey_levels) for v in (round(i * step),) * 3] + [0, 0, 0]
        images, durations = [], []
        for t, frame in enumerate(codes):
            if t and np.array_equal(frame, codes[t - 1]):
                durations[-1] += round(1000 / fps)
                continue
            image = Image.fromarray(np.where(frame == codes[t - 1], same, frame).astype(np.uint8) if t else frame, mode="P")
            image.putpalette(palette)
            if t:
                image.info["transparency"] = same
            images.append(image)
            durations.append(round(1000 / fps))
    else:
        # One palette for the whole animation, from up to 8 frames spread over it (stacked).
        sample = array[np.linspace(0, len(array) - 1, min(8, len(array))).round().astype(int)]
        palette = Image.fromarray(np.concatenate(list(sample), axis=0)).quantize(256, method=Image.Quantize.MEDIANCUT)
        images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE) for frame in array]
        durations = [round(1000 / fps)] * len(images)  # Pillow merges identical frames itself
    looping = {"loop": 0} if loop else {}  # loop=0: forever; no key: play once
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                   optimize=False, disposal=1, **looping)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------
# CAM overlays: a heatmap on the image, boxes, a caption
# ----------------------------------------------------------------------------------------


def _rgb_picture(image) -> np.ndarray:
    """uint8 (H, W, 3) from a uint8 tensor (C, H, W) or array (H, W), (H, W, 1|3)."""
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f"an image tensor must be uint8 (C, H, W) with C = 1 or 3, got {tuple(image.shape)}")
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3) or image.dtype != np.uint8:
        raise ValueError(f"an image must be uint8 (H, W), (H, W, 1) or (H, W, 3), got {image.dtype} {image.shape}")
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def colorize(values: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """uint8 (H, W, 3) colours of values in [0, 1] through a matplotlib colour map, by name."""
    from matplotlib import colormaps  # imported on use: keeps `import cnnzoo` light

    try:
        cmap = colormaps[colormap]
    except KeyError:
        raise ValueError(f"unknown colour map {colormap!r}; try jet, inferno, viridis, magma or turbo") from None
    return cmap(np.asarray(values, dtype=np.float64), bytes=True)[..., :3]


def draw_box(picture: np.ndarray, box, color=PREDICTED_BOX_COLOR, width: int = 1) -> np.ndarray:
    """Draw a box outline (pixel-edge x0, y0, x1, y1) into an (H, W, 3) uint8 array, in place.

    The line is `width` pixels wide, inside the box's edges; a box thinner than two lines is
    filled. Written as four slices rather than PIL's ImageDraw.rectangle(outline=, width=)
    (or torchvision's draw_bounding_boxes, which calls it): PIL draws past the far edge of a
    box thinner than two lines (a box one pixel high comes out two rows high), and it works on
    a PIL copy, so drawing in place would cost two copies of the picture.
    """
    h, w = picture.shape[:2]
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    x0, y0 = max(0, min(x0, w)), max(0, min(y0, h))
    x1, y1 = max(x0, min(x1, w)), max(y0, min(y1, h))
    if x1 <= x0 or y1 <= y0:
        return picture
    color = np.asarray(color, dtype=np.uint8)
    picture[y0:min(y0 + width, y1), x0:x1] = color  # top
    picture[max(y1 - width, y0):y1, x0:x1] = color  # bottom
    picture[y0:y1, x0:min(x0 + width, x1)] = color  # left
    picture[y0:y1, max(x1 - width, x0):x1] = color  # right
    return picture


def overlay_cam(image, cam: torch.Tensor, *, colormap: str = "jet", opacity: float = 0.5, box=None,
                true_box=None, size=None, box_color=PREDICTED_BOX_COLOR,
                true_box_color=TRUE_BOX_COLOR) -> np.ndarray:
    """The image with its CAM as a heatmap on top, and boxes: uint8 (H, W, 3).

    image    uint8 (C, H, W) tensor or (H, W[, C]) array; grey images become RGB
    cam      one raw map (h, w): upsampled bilinearly, min-max normalised (normalize_cam),
             coloured with `colormap` (any matplotlib name) and blended:
             (1 − opacity) · image + opacity · heatmap
    box, true_box  (x0, y0, x1, y1) in the image's pixel-edge coordinates
    size     output side (int) or (H, W): small images are enlarged with nearest neighbours
             (their pixels stay visible; by whole pixels when the factor is whole) while the
             map is upsampled smoothly to that size; smaller sizes shrink the image bilinearly
    """
    if isinstance(opacity, bool) or not isinstance(opacity, numbers.Real) or not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be from 0 (image only) to 1 (heatmap only), got {opacity!r}")
    cam = torch.as_tensor(cam).detach().cpu()
    if cam.dim() != 2:
        raise ValueError(f"overlay_cam takes one map (h, w), got shape {tuple(cam.shape)}")
    picture = _rgb_picture(image)
    h, w = picture.shape[:2]
    out_h, out_w = (h, w) if size is None else ((size, size) if isinstance(size, numbers.Integral) else tuple(size))
    picture = _resized(picture, out_h, out_w)
    heat = colorize(normalize_cam(upsample_cam(cam, (out_h, out_w))).numpy(), colormap)
    blended = (1 - opacity) * picture.astype(np.float32) + opacity * heat.astype(np.float32)
    out = blended.round().clip(0, 255).astype(np.uint8)
    scale = np.array([out_w / w, out_h / h, out_w / w, out_h / h])
    line = max(1, round(min(out_h, out_w) / 128))
    for b, color in ((true_box, true_box_color), (box, box_color)):
        if b is not None:
            draw_box(out, np.asarray(torch.as_tensor(b, dtype=torch.float32).cpu()) * scale, color, line)
    return out


def _resized(picture: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """(H, W, 3) -> (out_h, out_w, 3): whole-pixel enlarging, else PIL nearest (larger) or bilinear."""
    h, w = picture.shape[:2]
    if (out_h, out_w) == (h, w):
        return picture
    if out_h % h == 0 and out_w % w == 0 and out_h // h == out_w // w:
        return enlarge(picture, out_h // h)
    resample = Image.Resampling.NEAREST if out_h >= h and out_w >= w else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(picture).resize((out_w, out_h), resample))


def caption_below(picture: np.ndarray, text: str) -> np.ndarray:
    """The picture with a line of text under it, on black: uint8 (H + text height, W, 3). The text
    is an eighth of the width high (at least 13 pixels), smaller where it would not fit."""
    height = max(13, picture.shape[1] // 8)
    size = height - 2
    font = ImageFont.load_default(size=size)
    while size > 8 and font.getlength(text) > picture.shape[1] - 4:
        size -= 1
        font = ImageFont.load_default(size=size)
    band = Image.new("RGB", (picture.shape[1], height))
    ImageDraw.Draw(band).text((2, 0), text, fill=(255, 255, 255), font=font)
    return np.concatenate([picture, np.asarray(band)], axis=0)


def confusion_figure(matrix: torch.Tensor, class_names: list[str], title: str) -> "Figure":
    """Counts with rows = true class, columns = predicted class; the diagonal is right."""
    k = len(class_names)
    from matplotlib.figure import Figure  # matplotlib loads on the first figure, not with cnnzoo

    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix.numpy(), cmap="Blues")
    if k <= 20:
        # ten classes: counts and names at the text's own size, to be read off a projector
        labels, counts = ("medium", "medium") if k <= 10 else ("small", "x-small")
        ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=labels)
        ax.set_yticks(range(k), class_names, fontsize=labels)
        top = matrix.max().item() or 1
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=counts,
                            color="white" if matrix[i, j] > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: test confusion matrix", fontsize="medium")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
