"""The CAM timeline: the map of one probe image at every epoch of a training run.

Where the network looks, epoch by epoch: early maps are diffuse or on the background, later
ones settle on the object. One batch-1 forward pass per frame.

    timeline = CAMTimeline(test_set.images[7])               # uint8 (C, H, W)
    timeline.capture(model, epoch, mean, std)                # at each epoch end
    torch.save({"cam_timeline": timeline.state(), ...}, path)  # loads with weights_only=True
    timeline = CAMTimeline.from_state(test_set.images[7], torch.load(path)["cam_timeline"])
    timeline.strip(); timeline.save_gif("runs/cam.gif")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

# A module import, not names: cnnzoo.viz imports cnnzoo.cam.maps (and so this package), and a
# module import works whichever of the two loads first.
from cnnzoo import viz
from cnnzoo.cam.maps import compute_cam
from cnnzoo.cam.regions import cam_boxes
from cnnzoo.compute import normalize


@dataclass
class CAMFrame:
    epoch: float
    map: torch.Tensor  # (h, w) raw map, on the CPU
    class_idx: int
    prob: float
    method: str


@dataclass
class CAMTimeline:
    """The CAM of one probe image, frame by frame, as a network trains.

        timeline = CAMTimeline(test_set.images[7])          # uint8 (C, H, W)
        timeline.capture(model, epoch, mean, std)           # one frame: a batch-1 forward pass
        timeline.strip()                                    # uint8 picture, one overlay per frame
        timeline.save_gif("runs/cam.gif")

    The classifier trainer keeps one when its config names a probe (TrainConfig.cam_probe):
    a frame of the untrained model, one at every epoch's end, and one when a run stops
    between epochs; the run folder gets the strip, the GIF and one picture per frame.

    class_idx  fixed class to map (e.g. the probe's true label), or None for the class the
               model predicts at each epoch (it may change while the model learns)

    state() / from_state() carry the frames across a resumed run.
    """

    probe_image: torch.Tensor
    class_idx: int | None = None
    frames: list[CAMFrame] = field(default_factory=list)
    _drawn_with: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _drawn: list = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self):
        image = self.probe_image
        if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.dim() != 3:
            shape = tuple(image.shape) if hasattr(image, "shape") else type(image).__name__
            raise ValueError(f"the probe image must be a uint8 (C, H, W) tensor (a dataset image or "
                             f"cnnzoo.data.load_image's result), got {shape}")

    def capture(self, model: nn.Module, epoch: float, mean, std) -> CAMFrame:
        """Take one frame now from `model`, the probe normalised with mean and std."""
        x = normalize(self.probe_image[None], mean, std)
        result = compute_cam(model, x, self.class_idx)
        frame = CAMFrame(float(epoch), result.maps[0, 0].cpu(), int(result.classes[0, 0]),
                         float(result.probs[0, 0]), result.method)
        self.frames.append(frame)
        return frame

    def state(self) -> dict:
        """The settings and frames as plain tensors, numbers and strings, for a checkpoint that
        torch.load(..., weights_only=True) reads back; the probe image is not included."""
        return {
            "probe_shape": list(self.probe_image.shape),
            "class_idx": self.class_idx,
            "frames": [dict(epoch=f.epoch, map=f.map, class_idx=f.class_idx, prob=f.prob, method=f.method)
                       for f in self.frames],
        }

    @classmethod
    def from_state(cls, probe_image: torch.Tensor, state: dict) -> CAMTimeline:
        """The timeline that state() described, on the same probe image, ready to go on recording."""
        shape = list(probe_image.shape) if isinstance(probe_image, torch.Tensor) else None
        if shape != state["probe_shape"]:
            raise ValueError(f"this timeline was recorded on a probe image of shape {tuple(state['probe_shape'])}, "
                             f"got {tuple(shape) if shape else type(probe_image).__name__}; give the run's own probe")
        frames = [CAMFrame(float(f["epoch"]), f["map"], int(f["class_idx"]), float(f["prob"]), str(f["method"]))
                  for f in state["frames"]]
        return cls(probe_image, state["class_idx"], frames)

    def overlays(self, *, colormap: str = "jet", opacity: float = 0.5, size=128,
                 threshold: float | None = None, captions: bool = True, class_names=None) -> list[np.ndarray]:
        """One overlay per frame, `size` pixels square (None: the probe's own size), with a
        caption "ep <epoch>: <class> <probability>" (class_names turn indices into names) and,
        given a threshold, the box."""
        if not self.frames:
            raise ValueError("the timeline has no frames yet: record a training run first")
        h, w = self.probe_image.shape[1:]
        # Frames are only ever appended: the pictures drawn last time with these options stay
        # right, and a trainer redrawing the strip and the GIF every epoch draws one new frame.
        options = (colormap, opacity, size, threshold, captions, tuple(class_names or ()))
        if self._drawn_with != options:
            self._drawn_with, self._drawn = options, []
        for frame in self.frames[len(self._drawn):]:
            box = None if threshold is None else cam_boxes(frame.map, threshold, size=(h, w))
            picture = viz.overlay_cam(self.probe_image, frame.map, colormap=colormap, opacity=opacity, box=box,
                                      size=size)
            if captions:
                name = class_names[frame.class_idx] if class_names else str(frame.class_idx)
                picture = viz.caption_below(picture, f"ep {frame.epoch:.3g}: {name} {frame.prob:.0%}")
            self._drawn.append(picture)
        return list(self._drawn)

    def strip(self, *, gap: int = 2, **overlay_options) -> np.ndarray:
        """All frames side by side, oldest first, `gap` black pixels around each: uint8 (H', W', 3)."""
        return viz.side_by_side(self.overlays(**overlay_options), gap)

    def save_gif(self, path=None, *, fps: float = 2.0, **overlay_options) -> Path:
        """The frames as an animated GIF (cnnzoo.viz.save_gif), one per recorded epoch, looping.
        path None: a new file in the temp dir, where the UI may serve it from."""
        return viz.save_gif(self.overlays(**overlay_options), path, fps=fps)

