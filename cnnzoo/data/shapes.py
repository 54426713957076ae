"""shapes: procedurally drawn coloured shapes on clutter, with ground-truth boxes for CAM.

Each shape is a mask over canonical coordinates (u, v) in which the object fits the unit
circle; the image maps every pixel into that frame (translate, rotate, scale), so one
comparison per pixel draws the shape for a whole batch of images at once. A scene is drawn
in four steps: its random parameters, the background, the object's coverage of each pixel,
and the object's colour blended over the background by that coverage.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from cnnzoo.boxes import mask_boxes
from cnnzoo.data.dataset import SHAPE_NAMES, ImageDataset, channel_stats, check_size, check_split

CHUNK = 512  # scenes drawn at once: bounds the temporaries, (CHUNK, side·supersample, side·supersample) each


# ----------------------------------------------------------------------------------------
# The masks: which points (u, v) of the canonical frame belong to each shape
# ----------------------------------------------------------------------------------------


def _star_mask(u, v, points=5, inner=0.42):
    # Fold the angle into one half-point sector, then test against the edge from the outer
    # tip (1, 0) to the inner corner at angle pi/points.
    sector = math.pi / points
    angle = torch.atan2(v, u).remainder(2 * sector)
    angle = torch.minimum(angle, 2 * sector - angle)
    rho = torch.sqrt(u * u + v * v)
    x, y = rho * torch.cos(angle), rho * torch.sin(angle)
    bx, by = inner * math.cos(sector), inner * math.sin(sector)
    # inside when (x, y) lies on the origin's side of the line through (1, 0) and (bx, by)
    return (bx - 1) * y - by * (x - 1) >= 0


def _triangle_mask(u, v):
    inside = torch.ones_like(u, dtype=torch.bool)
    for k in range(3):  # three half-planes, edges at distance 0.5 from the centre
        a = -math.pi / 2 + 2 * math.pi * k / 3
        inside &= u * math.cos(a) + v * math.sin(a) <= 0.5
    return inside


def _heart_mask(u, v):
    # The heart x² + (y − |x|^(2/3))² <= 1 (deep notch, pointed tip), scaled into the unit
    # circle; v grows downwards, so y = −v puts the tip at the bottom before rotation.
    x, y = u * 1.35, -v * 1.35 + 0.3
    return x * x + (y - x.abs().pow(2 / 3)) ** 2 <= 1


def _arrow_mask(u, v):
    shaft = (u >= -0.95) & (u <= 0.15) & (v.abs() <= 0.2)
    head = (u >= 0.05) & (u <= 0.95) & (v.abs() <= 0.68 * (0.95 - u) / 0.9)
    return shaft | head


_SHAPE_MASKS = {
    "circle": lambda u, v: u * u + v * v <= 0.82**2,
    "ring": lambda u, v: ((u * u + v * v) <= 1.0) & ((u * u + v * v) >= 0.52**2),
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) <= 0.68,
    "triangle": _triangle_mask,
    "star": _star_mask,
    "cross": lambda u, v: ((u.abs() <= 0.27) & (v.abs() <= 0.92)) | ((v.abs() <= 0.27) & (u.abs() <= 0.92)),
    "heart": _heart_mask,
    "crescent": lambda u, v: (u * u + v * v <= 1.0) & ((u - 0.45) ** 2 + v * v >= 0.78**2),
    "ellipse": lambda u, v: u * u + (v / 0.48) ** 2 <= 0.95**2,
    "arrow": _arrow_mask,
}
assert list(_SHAPE_MASKS) == SHAPE_NAMES


def _hsv_to_rgb(h, s, v):
    """HSV in [0, 1] -> RGB in [0, 1], elementwise over tensors of any shape; adds a last dim."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], dim=-1)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return v[..., None] * (1 - s[..., None] * ramp)


def _seed_for(*parts) -> int:
    # Distinct, platform-independent seeds for (dataset, split, seed) combinations.
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


# ----------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------


def make_shapes(num_images: int, *, image_size: int = 32, seed: int = 0, split: str = "train",
                supersample: int = 3) -> ImageDataset:
    """Draw `num_images` scenes: one bright, saturated shape on a dim, low-contrast clutter.

    Classes are balanced. Per image: class, object radius 17–36% of the side (the tight box
    is then roughly 30–70% of the side), rotation, position (always fully inside), object
    colour (any hue, saturation 0.55–1, value 0.8–1), and a background of a base colour plus
    stripes, soft blobs and pixel noise, all kept at value <= 0.5. The object must stand out:
    with unconstrained colours small nets sit at chance level for epochs before they learn.
    Deterministic in (seed, split, num_images, image_size); train and test use different
    random streams. Shapes are rasterised at `supersample`× resolution and averaged, which
    anti-aliases their edges.
    """
    check_split(split)
    check_size(image_size)
    images, labels, boxes = _draw_shapes(num_images, image_size, seed, split, supersample)
    mean, std = _shapes_stats(image_size, seed)
    return ImageDataset("shapes", images, labels, list(SHAPE_NAMES), mean, std, flip=True, boxes=boxes, split=split)


@functools.lru_cache(maxsize=8)
def _shapes_stats(side: int, seed: int):
    # Statistics of the training distribution from a 500-image sample of the train stream,
    # so every split and every num_images normalises the same way.
    return channel_stats(_draw_shapes(500, side, seed, "train", supersample=1)[0])


@dataclass
class _Scenes:
    """The random parameters of n scenes, one row each; positions and sizes are fractions of the side."""

    labels: torch.Tensor  # int64 (n,)
    radius: torch.Tensor  # (n,) the object's radius
    cx: torch.Tensor  # (n,) its centre, kept `radius` away from every edge
    cy: torch.Tensor
    theta: torch.Tensor  # (n,) its rotation
    object_rgb: torch.Tensor  # (n, 3)
    base_rgb: torch.Tensor  # (n, 3) the background's base colour
    stripe_amp: torch.Tensor  # (n,) a sine wave over the background
    stripe_freq: torch.Tensor
    stripe_angle: torch.Tensor
    stripe_phase: torch.Tensor
    blob_x: torch.Tensor  # (n, 3) three soft Gaussian blobs per background
    blob_y: torch.Tensor
    blob_sigma: torch.Tensor
    blob_rgb: torch.Tensor  # (n, 3 blobs, 3 channels)

    @classmethod
    def draw(cls, n: int, gen: torch.Generator) -> _Scenes:
        # The order of the draws is the random stream: changing it changes every scene.
        def uniform(lo, hi, *shape):
            return lo + (hi - lo) * torch.rand(*shape, generator=gen)

        labels = torch.arange(n) % len(SHAPE_NAMES)
        labels = labels[torch.randperm(n, generator=gen)]
        radius = uniform(0.17, 0.36, n)
        cx, cy = uniform(0, 1, n) * (1 - 2 * radius) + radius, uniform(0, 1, n) * (1 - 2 * radius) + radius
        theta = uniform(0, 2 * math.pi, n)
        object_rgb = _hsv_to_rgb(uniform(0, 1, n), uniform(0.55, 1, n), uniform(0.8, 1, n))
        base_rgb = _hsv_to_rgb(uniform(0, 1, n), uniform(0, 0.6, n), uniform(0.1, 0.35, n))
        stripe = (uniform(0, 0.1, n), uniform(1.5, 5, n), uniform(0, math.pi, n), uniform(0, 2 * math.pi, n))
        blobs = (uniform(0, 1, n, 3), uniform(0, 1, n, 3), uniform(0.08, 0.25, n, 3), uniform(-0.15, 0.15, n, 3, 3))
        return cls(labels, radius, cx, cy, theta, object_rgb, base_rgb, *stripe, *blobs)

    def __getitem__(self, rows: slice) -> _Scenes:
        return _Scenes(*(getattr(self, f.name)[rows] for f in fields(self)))

    def __len__(self) -> int:
        return len(self.labels)


def _draw_shapes(n: int, side: int, seed: int, split: str, supersample: int):
    """uint8 images (n, 3, side, side), int64 labels (n,) and float boxes (n, 4) of n scenes."""
    gen = torch.Generator().manual_seed(_seed_for("shapes", split, seed))
    scenes = _Scenes.draw(n, gen)
    noise_gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
    images = torch.empty(n, 3, side, side, dtype=torch.uint8)
    boxes = torch.empty(n, 4)
    for start in range(0, n, CHUNK):
        rows = slice(start, min(start + CHUNK, n))
        chunk = scenes[rows]
        # noise_gen draws the background's noise, then the colour's: that order is the stream
        background = _background(chunk, side, noise_gen)  # (m, 3, side, side) in [0, 0.5]
        coverage = _coverage(chunk, side, supersample)  # (m, 1, side, side) in [0, 1]
        m = len(chunk)
        colour = chunk.object_rgb.view(m, 3, 1, 1) + 0.03 * torch.randn(m, 3, side, side, generator=noise_gen)
        picture = background * (1 - coverage) + colour.clamp(0, 1) * coverage
        images[rows] = (picture * 255).round_().clamp_(0, 255).to(torch.uint8)
        boxes[rows] = mask_boxes(coverage[:, 0] >= 0.5)  # tight box around the pixels at least half covered
    return images, scenes.labels, boxes


def _background(s: _Scenes, side: int, noise_gen: torch.Generator) -> torch.Tensor:
    """Base colour + stripes + three soft blobs + pixel noise: (m, 3, side, side), values in [0, 0.5]."""
    m = len(s)
    centres = (torch.arange(side) + 0.5) / side  # pixel centres as fractions of the side
    py, px = centres.view(1, side, 1), centres.view(1, 1, side)
    a = s.stripe_angle.view(m, 1, 1)
    wave = torch.sin(2 * math.pi * s.stripe_freq.view(m, 1, 1) * (px * torch.cos(a) + py * torch.sin(a))
                     + s.stripe_phase.view(m, 1, 1))  # (m, side, side)
    background = s.base_rgb.view(m, 3, 1, 1) + (s.stripe_amp.view(m, 1, 1) * wave)[:, None]
    for k in range(3):
        d2 = (px - s.blob_x[:, k].view(m, 1, 1)) ** 2 + (py - s.blob_y[:, k].view(m, 1, 1)) ** 2
        bump = torch.exp(-d2 / (2 * s.blob_sigma[:, k].view(m, 1, 1) ** 2))  # (m, side, side)
        background = background + s.blob_rgb[:, k].view(m, 3, 1, 1) * bump[:, None]
    background += 0.03 * torch.randn(m, 3, side, side, generator=noise_gen)
    return background.clamp_(0, 0.5)


def _coverage(s: _Scenes, side: int, supersample: int) -> torch.Tensor:
    """The fraction of each pixel the object covers, (m, 1, side, side): the mask rasterised
    at supersample× resolution, then averaged over supersample × supersample blocks."""
    m, fine_side = len(s), side * supersample
    fine = (torch.arange(fine_side) + 0.5) / fine_side
    dx = fine.view(1, 1, -1) - s.cx.view(m, 1, 1)
    dy = fine.view(1, -1, 1) - s.cy.view(m, 1, 1)
    cos, sin = torch.cos(s.theta).view(m, 1, 1), torch.sin(s.theta).view(m, 1, 1)
    r = s.radius.view(m, 1, 1)
    u, v = (dx * cos + dy * sin) / r, (-dx * sin + dy * cos) / r  # (m, S, S) canonical frame
    inside = torch.zeros(m, fine_side, fine_side, dtype=torch.bool)
    for c, mask_fn in enumerate(_SHAPE_MASKS.values()):
        idx = (s.labels == c).nonzero().squeeze(1)
        if len(idx):
            inside[idx] = mask_fn(u[idx], v[idx])
    return F.avg_pool2d(inside[:, None].float(), supersample)
