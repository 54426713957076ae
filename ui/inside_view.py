"""Pictures of a network's insides, for the Inside tab: feature-map tiles, filters, the path of a
picture through the stages, and a channel's favourite test images.

Every function turns what cnnzoo.inside computed into pictures or figures; nothing here runs
a network. Maps are drawn with one colour scale per layer (so a quiet channel looks quiet) or
per channel (so its pattern shows, whatever its strength); filters with a diverging scale
(blue negative, red positive, white zero), except a first layer's RGB filters, which are drawn
as the colours they respond to, as in the AlexNet and ZF-Net papers.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnzoo.inside import FeatureMaps
from cnnzoo.trace import TraceResult
from cnnzoo.viz import SAMPLE_GRID_STYLE, caption_below, colorize, enlarge, make_grid, overlay_cam, whole_scale

MAX_TILES = 64  # channels shown as tiles; the rest are counted in the summary
TILE_SIDE = 72  # a tile's least side in pixels: 8×8 maps become 72×72, whole pixels each
MAP_COLORMAP = "viridis"
FILTER_COLORMAP = "RdBu_r"
MAX_FILTER_ROWS = MAX_FILTER_COLUMNS = 16
PATH_CHANNELS = 4  # channels per stage in the path strip


def scaled(values: torch.Tensor, lo: float, hi: float) -> np.ndarray:
    """values mapped linearly to [0, 1], lo -> 0 and hi -> 1; a flat range maps to 0."""
    span = hi - lo
    out = (values.float() - lo) / span if span > 0 else torch.zeros_like(values, dtype=torch.float32)
    return out.clamp_(0, 1).numpy()


def map_tiles(fm: FeatureMaps, scale: str = "layer") -> list[tuple[np.ndarray, str]]:
    """Tiles of the most active channels (at most MAX_TILES), best first, each with its channel and
    value range, '12: 0.0…2.1', written under the map (and as the gallery's caption, for API clients). scale "layer": one colour scale for all, "channel": each its own."""
    shown = fm.order[:MAX_TILES].tolist()
    lo, hi = float(fm.minima.min()), float(fm.maxima.max())
    h, w = fm.shape[1:]
    factor = whole_scale(min(h, w), TILE_SIDE)
    tiles = []
    for c in shown:
        if scale == "channel":
            lo, hi = float(fm.minima[c]), float(fm.maxima[c])
        picture = enlarge(colorize(scaled(fm.values[c], lo, hi), MAP_COLORMAP), factor)
        caption = f"{c}: {fm.minima[c]:.1f}…{fm.maxima[c]:.1f}"
        tiles.append((caption_below(picture, caption), caption))
    return tiles


def maps_summary(fm: FeatureMaps, model_name: str) -> str:
    c, h, w = fm.shape
    shown = min(c, MAX_TILES)
    active = int((fm.maxima > 0).sum())
    more = f" (the {shown} most active shown)" if c > shown else ""
    return (f"**{fm.layer}** ({fm.layer_type}) of **{model_name}**: {c} channels of {h}×{w}{more}, sorted by "
            f"mean activation · values {float(fm.minima.min()):.3g} … {float(fm.maxima.max()):.3g} · "
            f"{active} of {c} channels fire somewhere (max > 0). Click a channel for the test images it "
            f"likes best.")


def filter_picture(weights: torch.Tensor, order: torch.Tensor | None = None) -> tuple[np.ndarray, str]:
    """One picture of a convolution's filters (C_out, C_in, k, k) and a line saying what it shows.

    RGB first layers: one colour tile per filter, each stretched to its own range. Others: a
    grid of k×k kernels, a row per output channel (in the maps' order when given) and a column
    per input channel, on one diverging scale centred at zero.
    """
    out_channels, in_channels, kh, kw = weights.shape
    rows = (order if order is not None and len(order) == out_channels else torch.arange(out_channels)).tolist()
    factor = whole_scale(min(kh, kw), 24 if in_channels == 3 else 12)
    if in_channels == 3:  # a first layer: the colours each filter responds to
        shown = weights[rows[:MAX_TILES]]
        lo = shown.flatten(1).amin(1).view(-1, 1, 1, 1)
        hi = shown.flatten(1).amax(1).view(-1, 1, 1, 1)
        tiles = ((shown - lo) / (hi - lo).clamp_min(1e-12)).repeat_interleave(factor, 2).repeat_interleave(factor, 3)
        grid = make_grid(tiles, nrow=min(16, len(shown)), value_range=(0.0, 1.0), **SAMPLE_GRID_STYLE).numpy()
        return grid, (f"{len(shown)} of {out_channels} filters, {kh}×{kw}×3, each stretched to its own range: "
                      f"the colours and edges they respond to")
    rows, columns = rows[:MAX_FILTER_ROWS], min(in_channels, MAX_FILTER_COLUMNS)
    shown = weights[rows, :columns]  # (rows, columns, k, k)
    bound = float(shown.abs().max()) or 1.0
    colours = colorize(scaled(shown, -bound, bound), FILTER_COLORMAP)  # (rows, columns, k, k, 3)
    tiles = torch.from_numpy(colours).flatten(0, 1).permute(0, 3, 1, 2)  # (rows·columns, 3, k, k)
    tiles = tiles.repeat_interleave(factor, 2).repeat_interleave(factor, 3)
    grid = make_grid(tiles, nrow=columns, padding=2, pad_value=255).numpy()
    return grid, (f"{kh}×{kw} kernels: a row per output channel ({len(rows)} of {out_channels}, most active "
                  f"first), a column per input channel ({columns} of {in_channels}); red positive, blue "
                  f"negative, white zero (±{bound:.3g})")


def path_figure(image: torch.Tensor, outputs: dict[str, torch.Tensor], stages: list[str],
                probabilities: torch.Tensor, class_names: list[str], model_name: str) -> Figure:
    """The picture's path as one strip: input → the most active channels of each stage → classes."""
    columns = len(stages) + 2
    fig = Figure(figsize=(max(8.0, 1.3 * columns), 5.2), layout="constrained")
    grid = fig.add_gridspec(PATH_CHANNELS, columns, width_ratios=[1] * (columns - 1) + [2.2])
    picture = image.permute(1, 2, 0).numpy()
    ax = fig.add_subplot(grid[:2, 0])
    ax.imshow(picture[:, :, 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"input\n{'×'.join(map(str, image.shape))}", fontsize=8)
    ax.axis("off")
    for col, name in enumerate(stages, 1):
        maps = outputs[name][0].float().cpu()  # (C, h, w)
        best = maps.flatten(1).mean(1).argsort(descending=True)[:PATH_CHANNELS].tolist()
        for row, c in enumerate(best):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(maps[c].numpy(), cmap=MAP_COLORMAP, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"ch {c}", fontsize=7, labelpad=1)
            if row == 0:
                ax.set_title(f"{name}\n{'×'.join(map(str, maps.shape))}", fontsize=8)
    ax = fig.add_subplot(grid[:, -1])
    top = probabilities.argsort(descending=True)[:min(10, len(probabilities))].tolist()
    ax.barh(range(len(top))[::-1], [float(probabilities[i]) for i in top], color="tab:blue")
    ax.set_yticks(range(len(top))[::-1], [class_names[i] if i < len(class_names) else str(i) for i in top], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("class probabilities", fontsize=8)
    fig.suptitle(f"{model_name}: the picture's path, input → the {PATH_CHANNELS} most active channels of each stage "
                 f"→ classes", fontsize=10)
    return fig


def top_image_tiles(images: torch.Tensor, maps: torch.Tensor, hits, class_names, labels) -> list[tuple[np.ndarray, str]]:
    """Each of a channel's favourite test images with that channel's map laid over it (where it
    fires), captioned with its rank, value, class and the map position of the maximum."""
    side = images.shape[-1]
    tiles = []
    for rank, ((index, value, (y, x)), picture, heat) in enumerate(zip(hits, images, maps)):
        overlay = overlay_cam(picture, heat, colormap="jet", opacity=0.45, size=side * whole_scale(side, 128))
        label = class_names[int(labels[index])] if labels is not None else "?"
        caption = f"{index} · {label} · {value:.2f}"
        tiles.append((caption_below(overlay, caption), caption))
    return tiles


def layer_rows(result: TraceResult) -> list[list]:
    """The trace as rows of (#, layer, type, output C × H × W) for the Inside tab's map of layers."""
    return [[i, row.name, row.layer_type, " × ".join(map(str, row.output_shape[1:]))]
            for i, row in enumerate(result.rows, 1)]
