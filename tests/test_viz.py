"""Image grids, CAM overlays, GIFs and latent-space walks (cnnzoo.viz, cnnzoo.latent)."""
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from matplotlib import colormaps
from PIL import Image

from cnnzoo.latent import generate, interpolate, interpolation_frames, latent_noise, lerp, sample_grid, slerp
from cnnzoo.registry import create_model
from cnnzoo.viz import (
    SAMPLE_GRID_STYLE, TRUE_BOX_COLOR, caption_below, colorize, draw_box, enlarge, grid_index, make_grid,
    overlay_cam, save_gif, save_png, side_by_side, to_uint8, whole_scale,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: see conftest.torch_threads


@pytest.fixture(scope="module")
def tiny_generator():
    torch.manual_seed(0)
    return create_model("dcgan_generator", latent_dim=8, image_size=32, width=4)


def test_to_uint8_maps_the_tanh_range():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0, -3.0]).view(1, 1, 1, 5)
    assert to_uint8(x).flatten().tolist() == [0, 128, 255, 255, 0]
    assert to_uint8(torch.tensor([[[[0.0, 0.5, 1.0]]]]), value_range=(0, 1)).flatten().tolist() == [0, 128, 255]
    u = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(to_uint8(u), u)
    with pytest.raises(ValueError, match="uint8 or float"):
        to_uint8(torch.zeros(1, 1, 2, 2, dtype=torch.long))


def test_make_grid_places_each_image_in_its_cell():
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 1, 4, 4) * 40  # image i is 40·i
    grid = make_grid(images, nrow=3, padding=0)
    assert grid.dtype == torch.uint8 and tuple(grid.shape) == (8, 12, 1)  # 2 rows × 3 columns of 4×4
    for i in range(6):
        row, col = divmod(i, 3)
        assert (grid[row * 4:(row + 1) * 4, col * 4:(col + 1) * 4] == 40 * i).all()
    padded = make_grid(images[:5], nrow=3, padding=1, pad_value=255)  # the 6th cell stays padding
    assert tuple(padded.shape) == (2 * 5 + 1, 3 * 5 + 1, 1)
    assert (padded[0] == 255).all() and (padded[6:10, 11:15] == 255).all()
    assert (padded[6:10, 6:10] == 160).all()  # image 4: second row, second column
    square = make_grid(torch.zeros(64, 3, 32, 32), padding=0)  # 8×8 of 32×32: exactly 256×256, RGB
    assert tuple(square.shape) == (256, 256, 3)
    assert tuple(make_grid(torch.zeros(64, 1, 32, 32), **SAMPLE_GRID_STYLE).shape) == (274, 274, 1)
    with pytest.raises(ValueError, match="N, C, H, W"):
        make_grid(torch.zeros(3, 32, 32))


def test_grid_index_maps_pixels_back_to_samples():
    images = torch.arange(7, dtype=torch.uint8).view(7, 1, 1, 1).expand(7, 1, 8, 8).contiguous()
    grid = make_grid(images, nrow=3, padding=2, pad_value=255)  # image i is filled with value i
    hits = {}
    for y in range(grid.shape[0]):
        for x in range(grid.shape[1]):
            index = grid_index(y, x, n=7, image_size=8, nrow=3, padding=2)
            if index is None:
                assert grid[y, x, 0] == 255  # a line or an empty cell
            else:
                assert grid[y, x, 0] == index
                hits[index] = hits.get(index, 0) + 1
    assert hits == {i: 64 for i in range(7)}
    assert grid_index(5, 5, n=64, image_size=32, padding=0) == 0
    assert grid_index(255, 255, n=64, image_size=32, padding=0) == 63


def test_enlarge_by_whole_pixels():
    picture = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    big = enlarge(picture, 3)
    assert isinstance(big, np.ndarray) and big.shape == (6, 9, 1)
    assert (big[3:6, 6:9] == picture[1, 2]).all()  # each pixel a 3×3 block
    tensor = enlarge(torch.from_numpy(picture), 2)
    assert isinstance(tensor, torch.Tensor) and torch.equal(tensor, torch.from_numpy(enlarge(picture, 2)))
    assert enlarge(picture, 1) is picture
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            enlarge(picture, bad)
    assert (whole_scale(8, 192), whole_scale(30, 192), whole_scale(200, 192)) == (24, 7, 1)


def test_side_by_side_is_a_one_row_grid():
    pictures = [np.full((4, 5, 3), 50 * (i + 1), np.uint8) for i in range(3)]
    row = side_by_side(pictures, gap=2)
    assert row.dtype == np.uint8 and row.shape == (4 + 2 * 2, 3 * (5 + 2) + 2, 3)
    for i in range(3):
        left = 2 + i * 7
        assert (row[2:6, left:left + 5] == 50 * (i + 1)).all()
        assert not row[:, left - 2:left].any()  # black gaps between and around
    assert not row[:2].any() and not row[-2:].any()
    assert side_by_side([torch.zeros(3, 3, 1, dtype=torch.uint8)] * 2, gap=1).shape == (5, 9, 1)  # grey stays grey
    with pytest.raises(ValueError, match="one size"):
        side_by_side([np.zeros((4, 5, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)])


def test_draw_box_pixel_edges_inside_the_box():
    picture = np.zeros((10, 12, 3), np.uint8)
    out = draw_box(picture, (2, 3, 8, 9), color=(1, 2, 3), width=2)
    assert out is picture  # drawn in place
    lines = picture[..., 0] == 1
    assert lines[3:5, 2:8].all() and lines[7:9, 2:8].all()  # top and bottom rows, inside y1 = 9
    assert lines[3:9, 2:4].all() and lines[3:9, 6:8].all()  # left and right columns, inside x1 = 8
    assert lines.sum() == 6 * 6 - 2 * 2 and tuple(picture[3, 2]) == (1, 2, 3)
    thin = draw_box(np.zeros((6, 6, 3), np.uint8), (1, 2, 5, 3), width=1)  # one pixel high: one row
    assert thin[..., 0].astype(bool).sum() == 4 and thin[2, 1:5].all()
    clipped = draw_box(np.zeros((6, 6, 3), np.uint8), (-3, -3, 20, 20))  # clipped to the picture
    assert clipped[0].all() and clipped[-1].all() and clipped[:, 0].all() and clipped[:, -1].all()
    assert not draw_box(np.zeros((6, 6, 3), np.uint8), (3, 3, 3, 5)).any()  # empty box: nothing


def test_colorize_matches_matplotlib():
    values = np.linspace(0, 1, 12).reshape(3, 4)
    colours = colorize(values, "viridis")
    assert colours.dtype == np.uint8 and colours.shape == (3, 4, 3)
    assert np.array_equal(colours, colormaps["viridis"](values, bytes=True)[..., :3])
    with pytest.raises(ValueError, match="colour map"):
        colorize(values, "no-such-map")


def test_overlay_blend_box_and_size():
    image = torch.zeros(3, 16, 16, dtype=torch.uint8)
    cam = torch.zeros(4, 4)
    cam[1, 1] = 1.0
    plain = overlay_cam(image, cam, opacity=0.0)
    assert plain.dtype == np.uint8 and plain.shape == (16, 16, 3) and not plain.any()
    heat = overlay_cam(image, cam, opacity=1.0, colormap="inferno")
    assert heat.shape == (16, 16, 3) and heat.any()
    boxed = overlay_cam(image, cam, opacity=0.0, box=(2, 3, 10, 12), true_box=(0, 0, 16, 16))
    assert tuple(boxed[3, 5]) == (255, 255, 255)  # predicted box's top edge
    assert tuple(boxed[0, 8]) == TRUE_BOX_COLOR  # true box's top edge
    assert not boxed[6, 6].any()  # inside stays untouched
    big = overlay_cam(torch.zeros(1, 8, 8, dtype=torch.uint8), cam, size=64, box=(0, 0, 4, 4))
    assert big.shape == (64, 64, 3) and tuple(big[0, 10]) == (255, 255, 255)
    with pytest.raises(ValueError, match="colour map"):
        overlay_cam(image, cam, colormap="no-such-map")
    with pytest.raises(ValueError, match="opacity"):
        overlay_cam(image, cam, opacity=2)


def test_overlay_enlarges_by_whole_pixels_like_nearest_neighbours():
    image = torch.randint(0, 256, (3, 6, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pixels = image.permute(1, 2, 0).numpy()
    whole = overlay_cam(image, torch.rand(3, 3), opacity=0.0, size=(24, 36))
    assert np.array_equal(whole, enlarge(pixels, 4))
    nearest = np.asarray(Image.fromarray(pixels).resize((36, 24), Image.Resampling.NEAREST))
    assert np.array_equal(whole, nearest)  # the same pixels PIL's nearest gives
    uneven = overlay_cam(image, torch.rand(3, 3), opacity=0.0, size=(20, 31))  # not whole: PIL nearest
    assert np.array_equal(uneven, np.asarray(Image.fromarray(pixels).resize((31, 20), Image.Resampling.NEAREST)))
    assert overlay_cam(image, torch.rand(3, 3), size=4).shape == (4, 4, 3)  # smaller: bilinear


def test_caption_below_adds_a_band_of_text():
    picture = np.zeros((48, 60, 3), np.uint8)
    captioned = caption_below(picture, "cat 93%")
    assert captioned.shape[1:] == (60, 3) and captioned.shape[0] > 48
    assert not captioned[:48].any() and captioned[48:].any()  # the picture, then white text


@pytest.mark.parametrize("channels", [1, 3])
def test_gif_has_the_requested_frames_and_size(tmp_path, channels):
    frames = torch.randint(0, 256, (7, 40, 56, channels), dtype=torch.uint8)
    path = save_gif(frames, tmp_path / "a.gif", fps=5)
    read = iio.imread(path, index=None, extension=".gif")
    assert read.shape[:3] == (7, 40, 56)
    assert path.stat().st_size > 0
    assert iio.immeta(path, index=0, extension=".gif").get("duration") == 200


def test_grey_gif_keeps_the_picture_with_few_levels(tmp_path):
    ramp = torch.linspace(0, 255, 64).round().to(torch.uint8).view(1, 1, 64, 1).repeat(3, 16, 1, 1)
    ramp[1:, 8:] = 0
    ramp[2, :4] = 0  # frames must differ: identical neighbours are stored once (durations added)
    read = iio.imread(save_gif(ramp, tmp_path / "ramp.gif", grey_levels=16), index=None, extension=".gif")
    assert read.shape[:3] == (3, 16, 64)
    first = read[0] if read.ndim == 3 else read[0, :, :, 0]  # grey GIFs may read back as (T, H, W)
    assert len(np.unique(first)) == 16  # snapped to 16 evenly spaced levels (0, 17, ..., 255)
    assert np.abs(first[0].astype(int) - ramp[0, 0, :, 0].numpy().astype(int)).max() <= 9


def test_gif_errors_and_temp_file():
    path = save_gif(np.zeros((2, 8, 8), dtype=np.uint8), fps=4)  # (T, H, W) grey, no path: a temp file
    assert path.exists() and path.suffix == ".gif"
    # two identical frames: Pillow keeps one frame that shows for both durations
    assert iio.immeta(path, index=0, extension=".gif").get("duration") == 500
    with pytest.raises(ValueError, match="uint8"):
        save_gif(np.zeros((2, 8, 8, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        save_gif(np.zeros((2, 8, 8, 4), dtype=np.uint8))


def test_png(tmp_path):
    picture = make_grid(torch.zeros(4, 1, 8, 8))
    assert Image.open(save_png(picture, tmp_path / "g.png")).size == (16, 16)


def test_slerp_endpoints_are_the_inputs_and_norms_stay_on_the_shell():
    z0, z1 = latent_noise(1, 16, 100), latent_noise(2, 16, 100)
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-5)
    assert torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-5)
    path = interpolate(z0, z1, 9, "slerp")
    assert tuple(path.shape) == (9, 16, 100)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    # same norms at the ends: slerp keeps the norm all along the great circle...
    unit0, unit1 = z0 / z0.norm(dim=1, keepdim=True) * 10, z1 / z1.norm(dim=1, keepdim=True) * 10
    mid = slerp(unit0, unit1, 0.5)
    assert torch.allclose(mid.norm(dim=1), torch.full((16,), 10.0), atol=1e-4)
    # ...while the straight line cuts inside: ~10/√2 for nearly orthogonal 100-d points
    line_mid = lerp(unit0, unit1, 0.5).norm(dim=1)
    assert (line_mid < 9).all() and line_mid.mean() == pytest.approx(10 / math.sqrt(2), abs=0.6)
    # and the angle advances evenly: equal steps along the circle
    angles = [torch.nn.functional.cosine_similarity(unit0, slerp(unit0, unit1, t)).acos() for t in (0.25, 0.5)]
    assert torch.allclose(angles[1], 2 * angles[0], atol=1e-3)


def test_slerp_of_parallel_points_falls_back_to_a_line():
    z = torch.ones(1, 4)
    assert torch.allclose(slerp(z, 3 * z, 0.5), 2 * z)
    assert torch.isfinite(slerp(z, z, 0.3)).all()


def test_interpolate_checks_its_arguments():
    z = torch.zeros(2, 8)
    with pytest.raises(ValueError, match="interpolation must be"):
        interpolate(z, z, 4, "cubic")
    with pytest.raises(ValueError, match="at least 2 frames"):
        interpolate(z, z, 1)
    with pytest.raises(ValueError, match="same shape"):
        interpolate(z, torch.zeros(3, 8), 4)


def test_latent_noise_is_a_function_of_the_seed():
    assert torch.equal(latent_noise(5, 4, 10), latent_noise(5, 4, 10))
    assert not torch.equal(latent_noise(5, 4, 10), latent_noise(6, 4, 10))


def test_interpolation_frames_and_gif(tiny_generator, tmp_path):
    z0, z1 = latent_noise(1, 4, 8), latent_noise(2, 4, 8)
    frames = interpolation_frames(tiny_generator, z0, z1, num_frames=6, mode="linear")
    assert frames.dtype == torch.uint8 and tuple(frames.shape) == (6, 70, 70, 1)  # 2×2 grid of 32×32
    # the first and last frames are the samples at the two ends
    assert torch.equal(frames[0], make_grid(generate(tiny_generator, z0), **SAMPLE_GRID_STYLE))
    assert torch.equal(frames[-1], make_grid(generate(tiny_generator, z1), **SAMPLE_GRID_STYLE))
    single = interpolation_frames(tiny_generator, z0[0], z1[0], num_frames=5)
    assert tuple(single.shape) == (5, 36, 36, 1)
    read = iio.imread(save_gif(frames, tmp_path / "walk.gif"), index=None, extension=".gif")
    assert read.shape[:3] == (6, 70, 70)
    assert tiny_generator.training  # generate() restores the mode it found


def test_sample_grid_is_reproducible(tiny_generator):
    a = sample_grid(tiny_generator, seed=4, n=6, nrow=3)
    assert tuple(a.shape) == (2 * 34 + 2, 3 * 34 + 2, 1)
    assert torch.equal(a, sample_grid(tiny_generator, seed=4, n=6, nrow=3))


def test_a_ten_class_confusion_matrix_prints_its_counts_at_text_size():
    # issue #14 item 4: x-small counts could not be read off a projector
    from matplotlib import rcParams

    from cnnzoo.viz import confusion_figure

    matrix = torch.diag(torch.tensor([36, 37, 35, 36, 36, 35, 36, 36, 35, 36]))
    matrix[3, 8] = 1
    ax = confusion_figure(matrix, [str(i) for i in range(10)], "simple_cnn").axes[0]
    counts = {text.get_text(): text.get_fontsize() for text in ax.texts}
    assert set(counts) == {"1", "35", "36", "37"}  # every non-zero cell, no zeros
    assert min(counts.values()) >= rcParams["font.size"]
    assert min(label.get_fontsize() for label in ax.get_xticklabels()) >= rcParams["font.size"]


def test_a_grey_gif_keeps_only_what_changed_and_decodes_to_every_frame_exactly(tmp_path):
    # Frames after the first store their unchanged pixels as transparent (the frame before shows
    # through): every frame still reads back whole, in RGB, exactly at its 16 levels.
    rng = np.random.default_rng(0)
    frames = np.repeat((rng.integers(0, 16, (1, 40, 40)) * 17).astype(np.uint8), 6, axis=0)
    for t in range(1, 5):
        frames[t] = frames[t - 1]
        frames[t, 10 * (t - 1):10 * t, :20] = rng.integers(0, 16, (10, 20)) * 17  # a band changes
    frames[5] = frames[4]  # ... and the last frame repeats the one before
    path = save_gif(frames, tmp_path / "bands.gif", fps=5)
    read = iio.imread(path, index=None)  # imageio stacks the frames: they all have one shape
    assert read.shape == (5, 40, 40, 3) and iio.immeta(path, index=4).get("duration") == 400
    assert np.array_equal(read[..., 0], frames[:5]) and np.array_equal(read[..., 0], read[..., 2])
