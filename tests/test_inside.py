"""cnnzoo.inside: layer outputs caught by hooks that always go away, channels ranked, filters, and
the images a channel likes best, checked against brute force."""
import threading

import pytest
import torch
import torch.nn.functional as F

from cnnzoo import create_model
from cnnzoo.compute import normalize
from cnnzoo.inside import (
    capture, channel_maxima, conv_filters, feature_maps, layer_outputs, rank_channels, stage_names,
)  # fmt: skip


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return create_model("simple_cnn", num_classes=4, width=8).eval()


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_capture_catches_the_named_outputs_and_removes_its_hooks(net):
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), capture(net, ["stage1.conv1", "stage3"]) as caught:
        net(x)
    assert hook_count(net) == 0
    expected = F.conv2d(x, net.stage1.conv1.weight, net.stage1.conv1.bias, padding=1)
    torch.testing.assert_close(caught["stage1.conv1"], expected)
    assert caught["stage3"].shape == (2, 32, 8, 8)
    with pytest.raises(RuntimeError), capture(net, ["stage1.conv1"]):
        raise RuntimeError("a failing forward")
    assert hook_count(net) == 0


def test_an_unknown_layer_says_which_exist(net):
    with pytest.raises(ValueError, match="no layer named 'stage9'.*trace table"):
        feature_maps(net, torch.randn(1, 3, 32, 32), "stage9")
    assert hook_count(net) == 0


def test_a_caught_output_is_a_copy_that_a_later_in_place_relu_does_not_change(net):
    """simple_cnn's ReLUs work in place on the batch norm's output: the copy keeps its negatives."""
    assert net.stage1.relu1.inplace
    out = layer_outputs(net, torch.randn(1, 3, 32, 32), ["stage1.bn1", "stage1.relu1"])
    assert out["stage1.bn1"].min() < 0
    torch.testing.assert_close(out["stage1.relu1"], out["stage1.bn1"].clamp_min(0))


def test_capture_ignores_forward_passes_of_other_threads(net):
    """Models are shared by every page of the app: one page's hook never sees another's picture."""
    with torch.no_grad(), capture(net, ["stage2"]) as caught:
        other = threading.Thread(target=lambda: net(torch.randn(1, 3, 32, 32)))
        other.start()
        other.join()
        assert caught == {}
        net(torch.randn(1, 3, 32, 32))
    assert list(caught) == ["stage2"]


def test_feature_maps_rank_channels_by_mean_activation(net):
    fm = feature_maps(net, torch.randn(1, 3, 32, 32), "stage2.relu1")
    assert fm.shape == (16, 16, 16) and fm.layer_type == "ReLU"
    means = fm.values.flatten(1).mean(1)
    assert means[fm.order].tolist() == sorted(means.tolist(), reverse=True)
    torch.testing.assert_close(fm.maxima, fm.values.flatten(1).amax(1))
    assert fm.minima.min() >= 0  # after a ReLU


def test_a_vector_layer_is_a_stack_of_one_by_one_maps(net):
    x = torch.randn(1, 3, 32, 32)
    fm = feature_maps(net, x, "head.fc")
    assert fm.shape == (4, 1, 1)
    torch.testing.assert_close(fm.values.flatten(), net(x)[0].detach())
    with pytest.raises(ValueError, match="not a stack of feature maps"):
        rank_channels(net, "head.fc", torch.zeros(1, 2, 3, 4, 5))


def test_filters_are_the_convolution_weights_and_other_layers_have_none(net):
    torch.testing.assert_close(conv_filters(net, "stage1.conv1"), net.stage1.conv1.weight.detach())
    with pytest.raises(ValueError, match="BatchNorm2d, which has no filters"):
        conv_filters(net, "stage1.bn1")


@pytest.mark.parametrize("name, stages", [
    ("resnet20", ["conv1", "layer1", "layer2", "layer3"]),
    ("resnet18_imagenet", ["conv1", "layer1", "layer2", "layer3", "layer4"]),
    ("densenet_bc_100_k12", ["conv0", "denseblock1", "transition1", "denseblock2", "transition2", "denseblock3"]),
    ("googlenet_small", ["stem", "inception3a", "inception3b", "inception4a", "inception4b", "inception5a"]),
    ("simple_cnn", ["stage1", "stage2", "stage3"]),
])  # fmt: skip
def test_stages_are_the_top_level_parts_that_hold_a_convolution(name, stages):
    with torch.device("meta"):
        model = create_model(name)
    assert stage_names(model) == stages


def test_channel_maxima_and_top_images_equal_brute_force(net):
    torch.manual_seed(1)
    images = torch.randint(0, 256, (37, 3, 32, 32), dtype=torch.uint8)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    best = channel_maxima(net, images, "stage2.conv2", mean, std, batch_size=8)  # batches of 8, 8, 8, 8, 5
    assert hook_count(net) == 0
    with torch.no_grad(), capture(net, ["stage2.conv2"]) as caught:
        net(normalize(images, mean, std))
    maps = caught["stage2.conv2"].flatten(2)  # (37, 16, 256)
    torch.testing.assert_close(best.maxima, maps.amax(2))
    assert best.map_size == (16, 16)
    for channel in (0, 7, 15):
        hits = best.top(channel, k=9)
        order = maps[:, channel].amax(1).argsort(descending=True)[:9]
        assert [i for i, _, _ in hits] == order.tolist()
        for index, value, (y, x) in hits:
            assert caught["stage2.conv2"][index, channel, y, x] == pytest.approx(value)
    with pytest.raises(ValueError, match="from 0 to 15"):
        best.top(16)
    with pytest.raises(ValueError, match="uint8 images"):
        channel_maxima(net, images.float(), "stage2.conv2", mean, std)
