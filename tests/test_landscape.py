"""cnnzoo.landscape: filter-normalised directions, the grid's centre is the checkpoint, plain and
residual share images and random numbers, vmap = loop, Stop keeps a partial grid, and θ_0 is the
trainer's own initialisation.

Untrained ResNet-20 / plain-20 on the native 8×8 digits (milliseconds per point), with BatchNorm
statistics and affine parameters set at random so that "the checkpoint's statistics" matter.
"""
from __future__ import annotations

import math
import threading

import pytest
import torch
import torch.nn.functional as F

from cnnzoo import create_model
from cnnzoo.compute import normalize, predict_logits
from cnnzoo.data import load_dataset
from cnnzoo.landscape import (
    MAX_STEPS, Landscape, centre_first, check_grid, direction_seeds, filter_norms, fixed_batches, starting_point,
    interpolation_1d, iter_landscape, landscape_2d, random_direction,
)  # fmt: skip
from cnnzoo.trainer import TrainConfig, Trainer

MEAN, STD = [0.3], [0.3]


def net(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model(name, num_classes=10, in_channels=1)
    with torch.no_grad():  # as if trained: BN statistics and affine parameters away from 0 and 1
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "test")


@pytest.fixture(scope="module")
def probe(digits):
    return fixed_batches(digits, batches=1, batch_size=32)


def test_every_filter_of_a_direction_has_the_norm_of_the_trained_filter():
    model = net("resnet20")
    for bn in ("ignore", "copy", "filter"):
        direction = random_direction(model, seed=3, bn=bn)
        assert direction.keys() == dict(model.named_parameters()).keys()
        for name, theta in model.named_parameters():
            d = direction[name]
            assert d.shape == theta.shape
            if theta.dim() > 1:  # conv (C_out, C_in, k, k) and linear (C_out, C_in): one norm per output row
                torch.testing.assert_close(filter_norms(d), filter_norms(theta.detach()), rtol=1e-5, atol=1e-7)
                assert not torch.allclose(d, theta)


def test_bn_and_bias_directions_zero_copied_or_random_with_their_own_norm():
    model = net("resnet20")
    one_d = [name for name, p in model.named_parameters() if p.dim() == 1]
    assert any("bn" in n for n in one_d) and "head.fc.bias" in one_d
    ignore, copy, own = (random_direction(model, 3, bn) for bn in ("ignore", "copy", "filter"))
    params = dict(model.named_parameters())
    for name in one_d:
        assert torch.count_nonzero(ignore[name]) == 0  # the paper's default: ignore biasbn
        torch.testing.assert_close(copy[name], params[name].detach())  # its other option: d = θ
        torch.testing.assert_close(own[name].norm(), params[name].detach().norm())
        assert not torch.allclose(own[name], params[name].detach())
    # The filters' numbers do not depend on the BN mode: 1-D directions are drawn in every mode.
    for name, p in params.items():
        if p.dim() > 1:
            torch.testing.assert_close(ignore[name], own[name])
    with pytest.raises(ValueError, match="bn must be one of"):
        random_direction(model, 0, bn="biasbn")


def test_the_grid_centre_is_the_checkpoint_on_the_same_batches(probe):
    model = net("resnet20")
    result = landscape_2d(model, probe, MEAN, STD, steps=3, span=0.5)
    logits = predict_logits(model, probe.images, MEAN, STD)
    assert result.complete and result.loss.shape == (3, 3)
    assert result.centre_loss == pytest.approx(F.cross_entropy(logits, probe.labels).item(), rel=1e-5)
    centre_accuracy = (logits.argmax(1) == probe.labels).float().mean().item()
    assert result.accuracy[1, 1].item() == pytest.approx(centre_accuracy)
    assert not torch.isnan(result.loss).any() and (result.loss > 0).all()
    # α runs along the columns, β along the rows; the grid is symmetric around 0.
    torch.testing.assert_close(result.alphas, torch.tensor([-0.5, 0.0, 0.5]))


def test_the_model_is_not_changed_and_bn_statistics_stay_the_checkpoints(probe):
    model = net("plain20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    landscape_2d(model, probe, MEAN, STD, steps=3, span=1.0, bn="filter")
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not model.training


def test_plain_and_residual_share_batches_and_random_numbers(digits):
    plain, residual = net("plain20", seed=1), net("resnet20", seed=2)
    # The fixed batches depend on the dataset and the numbers only: the same images for both.
    a, b = fixed_batches(digits, 2), fixed_batches(digits, 2)
    assert torch.equal(a.indices, b.indices) and torch.equal(a.images, b.images) and len(a.labels) == 128
    assert torch.bincount(a.labels).min() >= 10  # stratified: every digit is there
    for seed in direction_seeds(5):
        dp, dr = random_direction(plain, seed), random_direction(residual, seed)
        for name, p in plain.named_parameters():
            if p.dim() > 1:  # the same draw before normalisation: equal once each filter is a unit vector
                unit_p = dp[name].flatten(1) / filter_norms(dp[name]).unsqueeze(1)
                unit_r = dr[name].flatten(1) / filter_norms(dr[name]).unsqueeze(1)
                torch.testing.assert_close(unit_p, unit_r)
    probe = fixed_batches(digits, 1, batch_size=16)
    results = [landscape_2d(m, probe, MEAN, STD, steps=3, seed=5) for m in (plain, residual)]
    assert results[0].seeds == results[1].seeds == direction_seeds(5) == (10, 11)
    assert results[0].images == results[1].images == 16


def test_vmap_and_loop_give_the_same_grid(probe):
    model = net("resnet20")
    looped = landscape_2d(model, probe, MEAN, STD, steps=5, span=1.0, use_vmap=False, points_per_call=3)
    mapped = landscape_2d(model, probe, MEAN, STD, steps=5, span=1.0, use_vmap=True, points_per_call=4)
    torch.testing.assert_close(mapped.loss, looped.loss, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mapped.accuracy, looped.accuracy)


def test_stop_returns_a_partial_grid_filled_from_the_centre(probe):
    model, stop = net("resnet20"), threading.Event()
    seen = []

    def progress(result: Landscape):
        seen.append(result.done)
        stop.set()  # Stop pressed after the first call of the network

    result = landscape_2d(model, probe, MEAN, STD, steps=7, points_per_call=5, stop=stop, progress=progress)
    assert result.stopped == "stopped" and result.done == 5 < result.points == 49
    assert seen == [5, 5]  # the last value yielded is the final state
    computed = ~torch.isnan(result.loss)
    assert computed.sum() == 5 and computed[3, 3]  # the centre and its four neighbours
    assert set(centre_first(7)[:5]) == {tuple(cell) for cell in computed.nonzero().tolist()}
    assert math.isfinite(result.sharpness())
    timed = landscape_2d(model, probe, MEAN, STD, steps=7, points_per_call=1, time_limit_s=1e-9)
    assert timed.stopped == "time limit" and timed.done < 49


def test_steps_and_span_limits_say_what_is_allowed():
    for steps in (0, 1, 4, 53, 100, 2.5, "9"):
        with pytest.raises(ValueError, match=f"odd whole number from 3 to {MAX_STEPS}"):
            check_grid(steps, 1.0)
    for span in (0, -1, 11, float("nan")):
        with pytest.raises(ValueError, match="span must be"):
            check_grid(5, span)
    check_grid(3, 0.1)
    check_grid(MAX_STEPS, 10)


def test_summary_numbers_of_a_known_bowl():
    """f = α² + β² + 1 on a 5×5 grid of step h = 0.5: the Laplacian is 4; a ring takes the points
    within h/2 of its radius."""
    coords = torch.linspace(-1, 1, 5)
    loss = coords.view(1, -1) ** 2 + coords.view(-1, 1) ** 2 + 1
    bowl = Landscape(coords, coords, loss, loss.clone(), seeds=(0, 1), bn="ignore", images=1, done=25)
    assert bowl.centre_loss == 1 and bowl.sharpness() == pytest.approx(4.0)
    # r = 1: (±1, 0), (0, ±1) at f = 2 and the 8 points at r = 1.12 with f = 2.25
    assert bowl.mean_loss_at(1.0) == pytest.approx((4 * 2 + 8 * 2.25) / 12)
    # r = 0.5: (±0.5, 0), (0, ±0.5) at f = 1.25 and (±0.5, ±0.5) at r = 0.71 with f = 1.5
    assert bowl.mean_loss_at(0.5) == pytest.approx((4 * 1.25 + 4 * 1.5) / 8)
    assert math.isnan(bowl.mean_loss_at(3.0))


def test_the_line_starts_from_the_trainers_own_initialisation(tmp_path):
    config = TrainConfig(model="simple_cnn", knobs={"width": 4}, dataset="digits", epochs=1, seed=7)
    trainer = Trainer(config)
    trainer.load_data()
    expected = trainer.build_model()  # exactly what the training run starts from
    meta = {"model": "simple_cnn", "knobs": trainer.model_knobs(), "train_config": config.to_dict()}
    state = torch.get_rng_state()
    rebuilt, exact = starting_point(meta)
    assert exact and torch.equal(torch.get_rng_state(), state)  # the global random state is left alone
    for (name, a), b in zip(expected.state_dict().items(), rebuilt.state_dict().values()):
        assert torch.equal(a, b), name
    _, exact = starting_point({"model": "simple_cnn", "knobs": trainer.model_knobs()})
    assert not exact  # no train_config: a fresh initialisation, said so


def test_interpolation_ends_at_the_initial_and_the_trained_networks(probe):
    trained, initial = net("resnet20", seed=0), create_model("resnet20", num_classes=10, in_channels=1).eval()
    line = interpolation_1d(trained, initial, probe, MEAN, STD, steps=5, t_range=(-0.5, 1.5), points_per_call=2)
    torch.testing.assert_close(line.ts, torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.5]))
    x = normalize(probe.images, MEAN, STD)
    with torch.no_grad():
        at_end = F.cross_entropy(trained(x), probe.labels).item()
        at_start = F.cross_entropy(initial(x), probe.labels).item()  # with its own (fresh) statistics
    assert line.loss[3].item() == pytest.approx(at_end, rel=1e-5)
    assert line.loss[1].item() == pytest.approx(at_start, rel=1e-5)
    assert torch.isfinite(line.loss).all()
    stop = threading.Event()
    stop.set()
    assert interpolation_1d(trained, initial, probe, MEAN, STD, steps=5, stop=stop).stopped == "stopped"


def test_iter_landscape_yields_one_growing_result(probe):
    values = list(iter_landscape(net("plain20"), probe, MEAN, STD, steps=3, points_per_call=4))
    assert [v.done for v in values] == [9, 9, 9]  # the same object, updated in place
    assert values[0] is values[-1] and values[-1].complete and values[-1].seconds > 0
