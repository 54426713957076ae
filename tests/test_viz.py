"""Image grids, GIFs and latent-space walks (cnnzoo.viz, cnnzoo.latent)."""
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from cnnzoo.latent import generate, interpolate, interpolation_frames, latent_noise, lerp, sample_grid, slerp
from cnnzoo.registry import create_model
from cnnzoo.viz import SAMPLE_GRID_STYLE, grid_index, make_grid, save_gif, save_png, to_uint8


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets; a shared CPU makes two threads much slower
    yield
    torch.set_num_threads(before)


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
    from PIL import Image

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
