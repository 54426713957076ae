"""cnnzoo.cam: CAM identities, Grad-CAM, boxes, IoU, localisation, the timeline.
The overlays and other pictures are cnnzoo.viz's (tests/test_viz.py)."""
from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

import cnnzoo.cam
import cnnzoo.viz
from cnnzoo import create_model
from cnnzoo.runs import read_record
from cnnzoo.cam import (
    CAMTimeline,
    box_iou,
    cam_boxes,
    cam_method,
    cam_topk,
    class_activation_map,
    compute_cam,
    largest_region,
    localisation_accuracy,
    mask_boxes,
    normalize_cam,
    threshold_masks,
    upsample_cam,
)
from cnnzoo.compute import normalize
from cnnzoo.data import load_dataset
from cnnzoo.models.common import Classifier, ClassifierHead


def seeded(name, **kw):
    torch.manual_seed(0)
    model = create_model(name, **kw)
    model.eval()
    return model


def features_and_logits(model, x):
    with torch.no_grad():
        features = model.forward_features(x)
        return features, model.forward_head(features)


def hook_count(model: nn.Module) -> int:
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, k, {})) for m in model.modules() for k in kinds)


# --- the maps and the paper's identity ---------------------------------------------------


@pytest.mark.parametrize("name, kw, size, side", [
    ("simple_cnn", dict(width=8, downsample=2), 32, 8),
    ("simple_cnn", dict(width=8, downsample=1), 32, 16),
    ("resnet20", {}, 32, 8),
])
def test_gap_score_is_mean_of_map_plus_bias(name, kw, size, side):
    model = seeded(name, num_classes=10, **kw)
    x = torch.randn(3, 3, size, size)
    _, logits = features_and_logits(model, x)
    for c in range(10):
        maps = class_activation_map(model, x, c)
        assert maps.shape == (3, side, side)
        reconstructed = maps.mean(dim=(1, 2)) + model.head.fc.bias[c]  # S_c = mean M_c + b_c
        torch.testing.assert_close(reconstructed, logits[:, c], rtol=1e-5, atol=1e-5)


def test_identity_holds_to_double_precision():
    model = seeded("simple_cnn", width=8).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    _, logits = features_and_logits(model, x)
    result = compute_cam(model, x, torch.tensor([3, 7]))
    assert result.maps.dtype == torch.float32  # maps are float32 for display whatever the model
    maps = class_activation_map(model, x, torch.tensor([3, 7]))
    expected = logits[[0, 1], [3, 7]] - model.head.fc.bias[[3, 7]]
    torch.testing.assert_close(maps.double().mean(dim=(1, 2)), expected, rtol=1e-6, atol=1e-6)


def test_map_is_weighted_sum_of_feature_channels():
    model = seeded("simple_cnn", width=4)
    x = torch.randn(2, 3, 32, 32)
    features, _ = features_and_logits(model, x)
    maps = class_activation_map(model, x, 5)
    expected = (model.head.fc.weight[5].view(1, -1, 1, 1) * features).sum(1)  # Σ_k w_k^c f_k
    torch.testing.assert_close(maps, expected, rtol=1e-5, atol=1e-6)


def test_topk_matches_logits_in_one_forward_pass():
    model = seeded("simple_cnn", width=4)
    x = torch.randn(5, 3, 32, 32)
    calls = []
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    handle = first_conv.register_forward_hook(lambda *a: calls.append(1))
    try:
        result = cam_topk(model, x, k=3)
    finally:
        handle.remove()
    assert len(calls) == 1
    _, logits = features_and_logits(model, x)
    top = logits.topk(3, dim=1)
    assert torch.equal(result.classes, top.indices)
    torch.testing.assert_close(result.probs, logits.softmax(1).gather(1, top.indices))
    assert result.maps.shape == (5, 3, 8, 8) and result.input_size == (32, 32)
    assert result.method == "CAM" and result.label == "CAM (global average pooling)"
    for j in range(3):  # each of the k maps is that class's map
        torch.testing.assert_close(result.maps[:, j], class_activation_map(model, x, top.indices[:, j]))


def test_default_class_is_the_prediction_and_single_image_accepted():
    model = seeded("simple_cnn", width=4)
    x = torch.randn(3, 32, 32)
    _, logits = features_and_logits(model, x[None])
    result = compute_cam(model, x)
    assert result.classes.item() == logits.argmax().item()
    assert class_activation_map(model, x).shape == (1, 8, 8)


def test_gmp_head_same_maps_max_readout():
    model = seeded("simple_cnn", width=4, pool="max")
    x = torch.randn(4, 3, 32, 32)
    features, logits = features_and_logits(model, x)
    result = compute_cam(model, x, 2)
    assert result.method == "CAM" and result.pooling == "max" and "max" in result.label
    w, b = model.head.fc.weight[2], model.head.fc.bias[2]
    torch.testing.assert_close(result.maps[:, 0], torch.einsum("c,nchw->nhw", w, features), rtol=1e-5, atol=1e-6)
    # What holds: S_c = Σ_k w_k^c max f_k + b_c (each channel read at its own peak)...
    torch.testing.assert_close(logits[:, 2], features.amax(dim=(2, 3)) @ w + b, rtol=1e-5, atol=1e-5)
    # ...and not the GAP identity, nor max M_c + b_c.
    assert not torch.allclose(result.maps[:, 0].mean(dim=(1, 2)) + b, logits[:, 2], atol=1e-3)
    assert not torch.allclose(result.maps[:, 0].amax(dim=(1, 2)) + b, logits[:, 2], atol=1e-3)


def test_grad_cam_for_inception_mnist_is_labelled():
    model = seeded("inception_mnist")
    assert cam_method(model) == "Grad-CAM"
    x = torch.randn(2, 1, 28, 28)
    result = cam_topk(model, x, k=2)
    assert result.maps.shape == (2, 2, 4, 4)
    assert result.method == "Grad-CAM" and result.label == "Grad-CAM" and result.pooling is None
    assert (result.maps >= 0).all()  # the ReLU of Selvaraju et al.
    _, logits = features_and_logits(model, x)
    assert torch.equal(result.classes, logits.topk(2, 1).indices)
    assert class_activation_map(model, x, 1).shape == (2, 4, 4)
    assert all(p.grad is None for p in model.parameters())  # only the features were differentiated


def test_grad_cam_equals_relu_cam_over_hw_for_gap_heads():
    model = seeded("simple_cnn", width=4)
    x = torch.randn(3, 3, 32, 32)
    cam = compute_cam(model, x, 4).maps
    grad_cam = compute_cam(model, x, 4, method="Grad-CAM")
    assert grad_cam.method == "Grad-CAM"
    torch.testing.assert_close(grad_cam.maps, cam.clamp_min(0) / 64, rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match="Grad-CAM"):
        compute_cam(seeded("inception_mnist"), torch.randn(1, 1, 28, 28), method="CAM")


def test_model_whose_head_is_replaced_gets_grad_cam():
    class Custom(Classifier):
        def __init__(self):
            super().__init__()
            self.body = nn.Conv2d(3, 4, 3, padding=1)
            self.head = ClassifierHead(4, 3)

        def forward_features(self, x):
            return self.body(x)

        def forward_head(self, features):  # not the plain pooling + linear any more
            return self.head(features.relu())

    assert cam_method(Custom()) == "Grad-CAM"
    assert cam_method(seeded("resnet20")) == "CAM"


# --- cleanliness and errors -----------------------------------------------------------------


def test_no_hooks_remain_and_mode_restored_after_success_and_error():
    for model, x in ((seeded("simple_cnn", width=4), torch.randn(2, 3, 32, 32)),
                     (seeded("inception_mnist"), torch.randn(2, 1, 28, 28))):
        model.train()
        before = hook_count(model)
        compute_cam(model, x, top_k=2)
        assert hook_count(model) == before == 0 and model.training
        with pytest.raises(ValueError, match="out of range"):
            compute_cam(model, x, 10)  # fails after the forward pass
        assert hook_count(model) == 0 and model.training
        model.eval()
        compute_cam(model, x)
        assert not model.training


def test_clear_errors():
    model = seeded("simple_cnn", width=4)
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"out of range.*10 classes.*0 to 9"):
        class_activation_map(model, x, 10)
    with pytest.raises(ValueError, match="out of range"):
        class_activation_map(model, x, torch.tensor([1, -1]))
    with pytest.raises(ValueError, match="one per image"):
        class_activation_map(model, x, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="integer"):
        class_activation_map(model, x, 1.5)
    with pytest.raises(ValueError, match="C×H×W with C = 3"):
        class_activation_map(model, torch.randn(32, 32), 0)
    with pytest.raises(ValueError, match=r"C×H×W with C = 3.*permute"):
        class_activation_map(model, torch.randn(1, 32, 32, 3), 0)
    with pytest.raises(ValueError, match="normalize"):
        class_activation_map(model, torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 0)
    with pytest.raises(ValueError, match="top_k"):
        cam_topk(model, x, k=11)
    with pytest.raises(ValueError, match="forward_features"):
        compute_cam(nn.Conv2d(3, 3, 1), x)
    with pytest.raises(ValueError, match="threshold"):
        cam_boxes(torch.rand(8, 8), 1.5)
    with pytest.raises(ValueError, match="mode"):
        cam_boxes(torch.rand(8, 8), mode="biggest")
    with pytest.raises(ValueError, match="connectivity"):
        largest_region(torch.ones(4, 4, dtype=torch.bool), connectivity=6)


# --- maps to boxes ----------------------------------------------------------------------------


def test_upsample_and_normalize():
    maps = torch.randn(2, 3, 8, 8)
    assert upsample_cam(maps, 32).shape == (2, 3, 32, 32)
    assert upsample_cam(maps[0, 0], (20, 30)).shape == (20, 30)
    flat_blocks = upsample_cam(torch.ones(1, 4, 4), 16)
    torch.testing.assert_close(flat_blocks, torch.ones(1, 16, 16))
    normed = normalize_cam(maps)
    assert torch.allclose(normed.amin(dim=(-2, -1)), torch.zeros(2, 3))
    assert torch.allclose(normed.amax(dim=(-2, -1)), torch.ones(2, 3))
    assert torch.equal(normalize_cam(torch.full((4, 4), -3.0)), torch.zeros(4, 4))


def test_threshold_is_a_fraction_of_the_range():
    m = torch.tensor([[-1.0, 0.0, 1.0, 3.0]])  # range -1..3: 20% level = -0.2, 50% = 1.0
    assert threshold_masks(m, 0.2).tolist() == [[False, True, True, True]]
    assert threshold_masks(m, 0.5).tolist() == [[False, False, True, True]]
    assert threshold_masks(m, 1.0).tolist() == [[False, False, False, True]]
    assert threshold_masks(torch.full((2, 2), 5.0), 0.9).all()  # flat map: everywhere
    several = threshold_masks(torch.rand(3, 6, 6), [0.1, 0.5, 0.9])
    assert several.shape == (3, 3, 6, 6)
    assert (several[0] >= several[1]).all() and (several[1] >= several[2]).all()


def hand_map():
    # Two hot blobs on an 8×8 map: a big one (3 rows × 4 cols) and a small one (2×2).
    m = torch.zeros(8, 8)
    m[5:8, 4:8] = 1.0
    m[1:3, 1:3] = 0.8
    return m


def test_boxes_largest_region_vs_everything_above():
    m = hand_map()
    assert cam_boxes(m, 0.5, mode="largest").tolist() == [4, 5, 8, 8]
    assert cam_boxes(m, 0.5, mode="all").tolist() == [1, 1, 8, 8]
    assert cam_boxes(m, 0.9, mode="all").tolist() == [4, 5, 8, 8]  # the 0.8 blob falls below 90%
    # in image pixels: an 8×8 map of a 32×32 image, boxes grow by about 4× per side
    x0, y0, x1, y1 = cam_boxes(m, 0.5, size=32).tolist()
    assert 14 <= x0 <= 18 and 18 <= y0 <= 22 and (x1, y1) == (32, 32)


def test_connectivity_four_vs_eight():
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # a diagonal: one region with corners, three without
    mask[4:6, 4] = True  # two pixels joined by an edge
    assert mask_boxes(largest_region(mask, 8)).tolist() == [0, 0, 3, 3]
    assert mask_boxes(largest_region(mask, 4)).tolist() == [4, 4, 5, 6]
    assert mask_boxes(torch.zeros(3, 3, dtype=torch.bool)).tolist() == [0, 0, 0, 0]


def flood_fill_largest(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """The largest region of a 2-D boolean mask by breadth-first search, pixel by pixel; ties go
    to the region met first in row-major order (the one with the smallest pixel index)."""
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    h, w = mask.shape
    seen, best = set(), []
    for start in zip(*np.nonzero(mask)):
        if start in seen:
            continue
        region, queue = [], deque([start])
        seen.add(start)
        while queue:
            y, x = queue.popleft()
            region.append((y, x))
            for dy, dx in steps:
                q = (y + dy, x + dx)
                if 0 <= q[0] < h and 0 <= q[1] < w and mask[q] and q not in seen:
                    seen.add(q)
                    queue.append(q)
        if len(region) > len(best):
            best = region
    out = np.zeros_like(mask)
    for p in best:
        out[p] = True
    return out


@pytest.mark.parametrize("connectivity", [4, 8])
def test_largest_region_matches_a_flood_fill(connectivity):
    generator = torch.Generator().manual_seed(1)
    # (3 densities, 20 masks, 9, 13): sparse masks have many ties and single pixels, dense ones
    # winding regions; the leading dimensions are boxed at once, as localisation does.
    density = torch.tensor([0.3, 0.55, 0.7]).view(3, 1, 1, 1)
    masks = torch.rand(3, 20, 9, 13, generator=generator) < density
    masks[0, 0] = False  # an empty mask keeps nothing
    got = largest_region(masks, connectivity).numpy()
    assert got.shape == masks.shape and not got[0, 0].any()
    for t in range(3):
        for i in range(20):
            assert np.array_equal(got[t, i], flood_fill_largest(masks[t, i].numpy(), connectivity)), (t, i)


def test_iou_pixel_edge_conventions():
    assert box_iou([0, 0, 4, 4], [0, 0, 4, 4]).item() == 1.0
    assert box_iou([0, 0, 2, 2], [1, 0, 3, 2]).item() == pytest.approx(2 / 6)
    assert box_iou([0, 0, 4, 4], [1, 1, 3, 3]).item() == pytest.approx(4 / 16)
    assert box_iou([0, 0, 2, 2], [2, 0, 4, 2]).item() == 0.0  # touching edges share no pixel
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]).item() == 0.0
    one_pixel = torch.zeros(8, 8, dtype=torch.bool)
    one_pixel[5, 3] = True  # row 5, column 3
    assert mask_boxes(one_pixel).tolist() == [3, 5, 4, 6]  # area 1
    batch = box_iou(torch.tensor([[0, 0, 2, 2], [0, 0, 4, 4]]), torch.tensor([0, 0, 4, 4]))
    assert batch.tolist() == pytest.approx([0.25, 1.0])


# --- localisation on the shapes dataset ---------------------------------------------------------


class Brightness(Classifier):
    """A 'model' whose feature map is the image's brightness: shapes' objects are the brightest."""

    def __init__(self, labels_first: int = 0):
        super().__init__()
        self.head = ClassifierHead(1, 10)
        with torch.no_grad():
            self.head.fc.weight.fill_(1.0)
            self.head.fc.bias.zero_()
            self.head.fc.bias[labels_first] = 1.0  # always predicts this class

    def forward_features(self, x):
        return x.mean(1, keepdim=True)  # (N, 1, H, W): a map at full resolution


def test_localisation_accuracy_vectorised_matches_per_image():
    ds = load_dataset("shapes", "test", num_images=60)
    model = Brightness(labels_first=0)
    result = localisation_accuracy(model, ds, thresholds=[0.2, 0.5, 0.8], batch_size=25)
    assert result.method == "CAM" and result.num_images == 60
    assert result.classification_accuracy == pytest.approx((ds.labels == 0).float().mean().item())
    x = normalize(ds.images, ds.mean, ds.std)
    maps = class_activation_map(model, x)
    for t, acc, hits in zip(result.thresholds, result.accuracy, result.box_hits):
        ious = torch.stack([box_iou(cam_boxes(maps[i], t, size=32), ds.boxes[i]) for i in range(len(ds))])
        assert hits == pytest.approx((ious >= 0.5).float().mean().item())
        assert acc == pytest.approx(((ious >= 0.5) & (ds.labels == 0)).float().mean().item())
    assert result.box_hits[1] > 0.8  # brightness finds the bright object: the measure works
    assert result.best_threshold in result.thresholds
    assert result.at(0.5) == result.accuracy[1]
    assert len(result.rows()) == 3
    with pytest.raises(ValueError, match="no ground-truth boxes"):
        localisation_accuracy(model, load_dataset("digits", "test", num_images=10))


def test_every_public_name_of_the_package_is_there():
    assert all(hasattr(cnnzoo.cam, name) for name in cnnzoo.cam.__all__)
    assert not hasattr(cnnzoo.cam, "overlay_cam")  # pictures are cnnzoo.viz's
    assert callable(cnnzoo.viz.overlay_cam)


# --- timeline -----------------------------------------------------------------------------------


def tiny_trainer(epochs, **kw):  # 4 steps per epoch on 128 digits
    from cnnzoo.trainer import TrainConfig, Trainer

    return Trainer(TrainConfig(model="simple_cnn", knobs={"width": 4}, dataset="digits", epochs=epochs,
                               batch_size=32, train_subset=128, augment=False, device="cpu", **kw))


def test_the_trainer_records_a_frame_of_the_untrained_model_and_one_per_epoch(tmp_path):
    trainer = tiny_trainer(3, cam_probe=0, out_dir=str(tmp_path))
    events = list(trainer.run())
    assert events[0].kind == "start" and events[-1].kind == "end" and events[-1].reason == "done"
    timeline = trainer.timeline
    assert torch.equal(timeline.probe_image, load_dataset("digits", "test").images[0])
    assert [f.epoch for f in timeline.frames] == [0.0, 1.0, 2.0, 3.0]
    assert all(f.map.shape == (2, 2) and f.method == "CAM" and 0 <= f.prob <= 1 for f in timeline.frames)
    assert trainer.model.training  # the CAM passes left the run's train mode alone

    strip = timeline.strip(size=32, threshold=0.5, gap=2)
    assert strip.dtype == np.uint8 and strip.shape[1] == 4 * 32 + 5 * 2 and strip.shape[0] > 32 + 4
    with Image.open(timeline.save_gif(tmp_path / "sub" / "cam.gif", fps=4, size=32)) as gif:
        assert gif.n_frames == 4 and gif.info["duration"] == 250
    # The run folder holds the strip, the GIF and a picture per frame, which the run record names.
    files = events[-1].files
    with Image.open(files["cam_timeline"]) as gif:
        assert gif.n_frames == 4
    assert Image.open(files["cam_strip"]).width > 4 * 128
    cam_images = [i for i in read_record(tmp_path)["images"] if i["kind"] == "cam"]
    assert [i["epoch"] for i in cam_images] == [0.0, 1.0, 2.0, 3.0]
    assert all((tmp_path / i["file"]).is_file() for i in cam_images)


def test_a_fractional_run_ends_on_a_frame_and_a_fixed_class_stays_fixed():
    trainer = tiny_trainer(1.5, cam_probe=1)
    list(trainer.run())
    assert [f.epoch for f in trainer.timeline.frames] == [0.0, 1.0, 1.5]
    probe = load_dataset("digits", "test").images[1]
    timeline = CAMTimeline(probe, class_idx=7)
    for epoch in (0, 1):
        timeline.capture(trainer.model, epoch, trainer.train_set.mean, trainer.train_set.std)
    assert {f.class_idx for f in timeline.frames} == {7}
    with pytest.raises(ValueError, match="uint8"):
        CAMTimeline(probe.float())
    with pytest.raises(ValueError, match="no frames"):
        CAMTimeline(probe).strip()


def test_timeline_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    probe = load_dataset("digits", "test").images[2]  # uint8 (1, 8, 8)
    model = seeded("simple_cnn", in_channels=1, width=4, downsample=1)
    timeline = CAMTimeline(probe, class_idx=3)
    for epoch in (0, 1):
        timeline.capture(model, epoch, (0.3,), (0.4,))
        with torch.no_grad():
            model.head.fc.weight.add_(1.0)  # "training": the next map differs
    torch.save({"cam_timeline": timeline.state()}, tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)["cam_timeline"]  # plain values only

    resumed = CAMTimeline.from_state(probe, state)
    assert resumed.class_idx == 3
    assert len(resumed.frames) == 2
    for a, b in zip(resumed.frames, timeline.frames):
        assert (a.epoch, a.class_idx, a.prob, a.method) == (b.epoch, b.class_idx, b.prob, b.method)
        assert torch.equal(a.map, b.map)
    assert np.array_equal(resumed.strip(size=16), timeline.strip(size=16))
    resumed.capture(model, 2, (0.3,), (0.4,))  # it goes on recording
    assert [f.epoch for f in resumed.frames] == [0.0, 1.0, 2.0] and len(timeline.frames) == 2
    with pytest.raises(ValueError, match="probe image of shape"):
        CAMTimeline.from_state(torch.zeros(3, 8, 8, dtype=torch.uint8), state)
