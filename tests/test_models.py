"""The model zoo: every registered model is built and run here, so a new model is tested for free.

Registry-wide (timm style): forward + backward at each model's registered input size, output
shape, the features/head seam and num_features, no NaN, a gradient for every parameter, the
global-max-pool head, the registry's metadata. Then the numbers the papers and torchvision
publish (parameter counts, identical outputs with torchvision weights), the layer names the
Shapes tab shows, the errors a user can cause, and the GAN shapes.
"""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
from conftest import torch_threads

from cnnzoo.registry import NORMALISATIONS, create_model, get_entry, list_models, model_info, model_knobs

CLASSIFIERS = list_models(kind="classifier")

# Nets whose forward + backward at 32×32 costs more than ~0.1 s per image on one CPU core run
# with batches of 2 (the smallest that batch norm accepts in training mode); all others with 4.
HEAVY = {"resnet50", "resnet101", "resnet152", "wide_resnet", "wide_resnet16_8", "wide_resnet28_10",
         "wide_resnet40_4", "densenet121", "densenet_bc_250_k24"}
# Nets too big to build for real in a test (VGG: 133M+ parameters, 4 s to build and run once):
# the registry-wide test runs them on the meta device (shapes, the seam, a gradient for every
# parameter, no memory); test_vgg_toy_forward_backward runs their code for real, small.
ON_META = {name for name in CLASSIFIERS if get_entry(name).family == "vgg"}


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """This module's many small forward/backward passes run on one thread (conftest.torch_threads)."""
    with torch_threads(1):
        yield


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def input_for(name: str, batch: int, max_side: int = 32) -> torch.Tensor:
    """A random batch of the model's registered input size, its sides capped at max_side.

    The cap keeps the 224×224 ImageNet nets fast (their GAP head takes any size, as timm's
    tests do); the nets with a fixed-size head are designed for less than 32×32 anyway.
    """
    torch.manual_seed(0)
    channels, height, width = model_info(name)["input_size"]
    return torch.randn(batch, channels, min(height, max_side), min(width, max_side))


def first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


# ----------------------------------------------------------------------------- registry-wide

@pytest.mark.parametrize("name", sorted(set(CLASSIFIERS) - ON_META))
def test_classifier_forward_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7)
    x = input_for(name, 2 if name in HEAVY else 4)

    model.train()
    logits = model(x)
    assert logits.shape == (x.shape[0], 7)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    grad = first_conv(model).weight.grad
    assert grad is not None and grad.abs().sum() > 0, "no gradient reached the first conv"
    for parameter_name, parameter in model.named_parameters():  # a dead branch has none
        assert parameter.grad is not None, f"no gradient for {parameter_name}"

    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.dim() == 4, "forward_features must return (N, C, h, w)"
        assert features.shape[1] == model.num_features, "num_features must be the channels of forward_features"
        torch.testing.assert_close(model.forward_head(features), model(x))


@pytest.mark.parametrize("name", sorted(ON_META))
def test_big_classifier_forward_backward_on_meta(name):
    with torch.device("meta"):
        model = create_model(name, num_classes=7)
        x = torch.randn(2, *model_info(name)["input_size"])
        logits = model.train()(x)
        assert logits.shape == (2, 7)
        logits.logsumexp(dim=1).mean().backward()
        for parameter_name, parameter in model.named_parameters():
            assert parameter.grad is not None, f"no gradient for {parameter_name}"
        features = model.eval().forward_features(x)
    assert features.dim() == 4 and features.shape[1] == model.num_features


@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if "pool" in model_knobs(n)])
def test_global_max_pool_head(name):
    model = create_model(name, num_classes=5, pool="max").eval()
    x = input_for(name, 2, max_side=16)  # small: this is about the head
    with torch.no_grad():
        features = model.forward_features(x)
        logits = model(x)
    assert logits.shape == (2, 5)
    # The head pools with max: logits = fc(max over h, w).
    expected = model.head.fc(features.amax(dim=(2, 3)))
    torch.testing.assert_close(logits, expected)


def test_every_classifier_has_the_common_knobs():
    for name in CLASSIFIERS:
        knobs = model_knobs(name)
        assert knobs["num_classes"] == 10, name
        if name == "inception_mnist":  # an MNIST net (1 channel) with the tutorial's flatten + fc head
            assert knobs["in_channels"] == 1 and "pool" not in knobs
        elif get_entry(name).family == "vgg":  # flatten + three FC layers, not a global pool
            assert knobs["in_channels"] == 3 and "pool" not in knobs and knobs["dropout"] == 0.5, name
        else:
            assert knobs["in_channels"] == 3 and knobs["pool"] == "avg", name


@pytest.mark.parametrize("name", list_models())
def test_registry_metadata_agrees_with_the_builder(name):
    info = model_info(name)
    assert set(info) == {"name", "family", "kind", "description", "paper", "input_size", "normalisation", "knobs"}
    assert info["paper"] and "seed" not in info["paper"].lower(), name
    assert info["normalisation"] in NORMALISATIONS
    channels, height, width = info["input_size"]
    knobs = info["knobs"]
    # The channels (and a GAN's image_size) the default knobs build are the registered ones.
    assert channels == knobs.get("in_channels", knobs.get("out_channels")), name
    if "image_size" in knobs:
        assert height == width == knobs["image_size"], name
    imagenet = name.endswith("_imagenet") or info["family"] == "vgg"  # torchvision's names for VGG
    assert (info["normalisation"] == "imagenet") == imagenet, name
    assert (height, width) == ((224, 224) if imagenet else (28, 28) if name == "inception_mnist"
                               else (64, 64) if info["family"] == "gan" else (32, 32)), name


def test_list_models_sorts_for_humans():
    names = list_models(family="resnet")
    assert names.index("resnet18") < names.index("resnet20") < names.index("resnet101")
    assert names.index("resnet18") < names.index("resnet18_imagenet") < names.index("resnet34")
    assert list_models(kind="classifier", family="wide_resnet")[:3] == ["wide_resnet", "wide_resnet16_4", "wide_resnet16_8"]


def test_imagenet_normalisation_comes_from_torchvision():
    from cnnzoo.models.resnet import imagenet_normalisation

    mean, std = imagenet_normalisation()
    assert mean == pytest.approx((0.485, 0.456, 0.406)) and std == pytest.approx((0.229, 0.224, 0.225))


@pytest.mark.parametrize("name", ["resnet20", "wide_resnet16_4", "densenet_bc_100_k12"])
def test_he_init(name):
    """Conv weights ~ N(0, 2 / fan_out) with fan_out = k·k·C_out, BatchNorm the identity."""
    torch.manual_seed(0)
    model = create_model(name)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.weight.numel() >= 400:  # enough draws for a std
            k_h, k_w = module.kernel_size
            expected = (2 / (k_h * k_w * module.out_channels)) ** 0.5
            assert module.weight.std().item() == pytest.approx(expected, rel=0.15)
        elif isinstance(module, nn.BatchNorm2d):
            assert (module.weight == 1).all() and (module.bias == 0).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_impossible_channel_counts_are_value_errors(name):
    with pytest.raises(ValueError, match="in_channels must be an integer >= 1"):
        create_model(name, in_channels=0)


@pytest.mark.parametrize("name", ["simple_cnn", "resnet20", "wide_resnet16_4", "densenet", "googlenet_small", "inception_mnist"])
def test_impossible_class_counts_are_value_errors(name):
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        create_model(name, num_classes=0)


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet18"])
def test_mnist_sized_input_into_a_cifar_net(name):
    # Global average pooling makes the head independent of the input size.
    model = create_model(name, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_unknown_model_and_knob_errors():
    with pytest.raises(ValueError, match="resnet20"):  # did-you-mean
        create_model("resnet21")
    with pytest.raises(ValueError, match="shortcut"):
        create_model("resnet20", widen_factor=2)


@pytest.mark.parametrize(
    "name, knobs, words",
    [
        ("resnet_cifar", {"depth": 21}, ["6n + 2", "20", "32", "110"]),
        ("plain_cifar", {"depth": 0}, ["6n + 2"]),
        ("resnet20", {"shortcut": "D"}, ["'A'", "'B'", "'C'"]),
        ("resnet20", {"pool": "mean"}, ["avg", "max"]),
    ],
)
def test_impossible_knobs_say_what_is_valid(name, knobs, words):
    with pytest.raises(ValueError) as err:
        create_model(name, **knobs)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    "name, knobs, layers",
    [
        ("densenet", {"depth": 22}, ["conv0", "denseblock1.denselayer3.conv2", "transition1.conv",
                                     "transition2.pool", "denseblock3.denselayer1.norm1", "norm5", "relu5"]),
        ("densenet", {"depth": 13, "bottleneck": False}, ["denseblock2.denselayer3.conv1", "transition1.norm"]),
        ("googlenet_small", {}, ["stem.conv", "maxpool2", "inception3a.branch1.conv", "inception3b.branch2.1.conv",
                                 "maxpool3", "inception4a.branch3.2.bn", "inception5a.branch4.0"]),
        ("inception_mnist", {}, ["conv1", "incept1.branch2.1", "incept2.branch4.1", "fc"]),
        ("simple_cnn", {}, ["stage1.conv1", "stage2.pool", "stage2.conv1", "stage3.bn2", "stage3.relu2"]),
        ("resnet18_imagenet", {}, ["conv1", "maxpool", "layer1.0.conv1", "layer2.0.downsample.0"]),  # torchvision's
        ("vgg16_bn", {}, ["stage1.conv1", "stage1.bn1", "stage3.conv3", "stage5.pool", "head.avgpool",
                          "head.fc6", "head.drop7", "head.fc"]),  # the Caffe model's conv3_3, fc6
        ("wide_resnet16_4", {}, ["stage1.0.conv1", "stage3.1.bn2", "bn"]),
    ],
)
def test_layers_carry_the_papers_names(name, knobs, layers):
    """The Shapes tab's layer table lists named_modules(): the papers' words, not features.17.0.2."""
    with torch.device("meta"):
        modules = dict(create_model(name, **knobs).named_modules())
    assert all(layer in modules for layer in layers), sorted(set(layers) - set(modules))
    assert not any(path.split(".")[0].isdigit() for path in modules if path), "an anonymous top-level layer"


def test_inception_branches_follow_the_diagram():
    from cnnzoo.models.inception import InceptionModule

    module = InceptionModule(10, bn_relu=False)
    kernels = [[m.kernel_size[0] for m in getattr(module, f"branch{i}").modules() if isinstance(m, nn.Conv2d)]
               for i in (1, 2, 3, 4)]
    assert kernels == [[1], [1, 5], [1, 3, 3], [1]]
    assert isinstance(module.branch4[0], nn.AvgPool2d)
    assert not hasattr(create_model("simple_cnn", downsample=1).stage3, "pool")


def test_blocks_per_stage():
    from cnnzoo.models.common import blocks_per_stage

    assert blocks_per_stage(110, 6, 2, "CIFAR ResNet", "110") == 18
    assert blocks_per_stage(40, 3, 4, "DenseNet", "40") == 12
    for bad in (2, 21, 20.0, True, "20"):
        with pytest.raises(ValueError, match=r"CIFAR ResNet depth must be 6n \+ 2 \(n >= 1\): 8, 14, 20, 26, 32"):
            blocks_per_stage(bad, 6, 2, "CIFAR ResNet", "20, 56")


# ------------------------------------------------------------------------------------ ResNet

@pytest.mark.parametrize(
    "name, published",
    [("resnet20", 0.27e6), ("resnet56", 0.85e6), ("resnet110", 1.7e6)],  # He et al. Table 6
)
def test_cifar_resnet_parameter_counts(name, published):
    count = n_params(create_model(name))
    assert abs(count - published) / published < 0.03, count


def test_plain_net_is_the_resnet_without_shortcuts():
    resnet, plain = create_model("resnet56"), create_model("plain56")
    # Option A shortcuts have no parameters: the two nets hold exactly the same weights.
    assert n_params(resnet) == n_params(plain)
    plain.load_state_dict(resnet.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(resnet.eval()(x), plain.eval()(x))


def test_option_b_adds_projection_parameters():
    a, b = create_model("resnet20"), create_model("resnet20", shortcut="B")
    # Two projections (16->32, 32->64): 1×1 conv + BN each.
    assert n_params(b) - n_params(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def projection_params(pairs) -> int:
    """An independent count of 1×1 conv + BN projections: C_in·C_out weights + 2·C_out (γ, β) each."""
    return sum(c_in * c_out + 2 * c_out for c_in, c_out in pairs)


def block_channels(widths, blocks_per_stage, expansion=1, stem=None):
    """(C_in, C_out) of every residual block in order, from the stage widths alone."""
    pairs, channels = [], stem or widths[0]
    for width, n in zip(widths, blocks_per_stage):
        for _ in range(n):
            pairs.append((channels, width * expansion))
            channels = width * expansion
    return pairs


def test_option_c_projects_every_shortcut():
    a, c = create_model("resnet20"), create_model("resnet20", shortcut="C")
    # 9 blocks, each with a projection: 3 × 16->16, 16->32, 2 × 32->32, 32->64, 2 × 64->64.
    pairs = block_channels((16, 32, 64), (3, 3, 3))
    assert n_params(c) - n_params(a) == projection_params(pairs)
    blocks = [block for stage in (c.layer1, c.layer2, c.layer3) for block in stage]
    assert all(isinstance(block.downsample[0], nn.Conv2d) for block in blocks)
    assert c.layer1[0].downsample[0].stride == (1, 1) and c.layer2[0].downsample[0].stride == (2, 2)
    with torch.no_grad():
        assert c.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet34_shortcut_options_a_b_c_and_plain34():
    """The paper's Table 3 nets: A adds nothing to plain-34, B the 3 projections where the shape
    changes, C one projection per block (16): counted here from the layout, independently."""
    import torchvision

    with torch.device("meta"):
        a, b, c = (create_model("resnet34_imagenet", num_classes=1000, shortcut=s) for s in "ABC")
        plain = create_model("plain34_imagenet", num_classes=1000)
        reference = torchvision.models.resnet34(weights=None)
    pairs = block_channels((64, 128, 256, 512), (3, 4, 6, 3))
    changing = [(c_in, c_out) for c_in, c_out in pairs if c_in != c_out]
    assert len(pairs) == 16 and len(changing) == 3
    assert n_params(b) == n_params(reference) == 21_797_672
    assert n_params(a) == n_params(plain) == n_params(b) - projection_params(changing) == 21_623_848
    assert n_params(c) == n_params(a) + projection_params(pairs) == 22_716_840
    assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in c.modules()) == 16


@pytest.mark.parametrize("depth", [18, 34])
def test_plain_imagenet_nets_are_torchvision_resnets_without_shortcuts(depth):
    import torchvision

    from cnnzoo.models.resnet import BasicBlock, from_torchvision_state_dict

    with torch.device("meta"):
        plain = create_model(f"plain{depth}_imagenet", num_classes=1000)
        reference = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    shortcuts = sum(p.numel() for name, p in reference.named_parameters() if "downsample" in name)
    assert n_params(plain) == n_params(reference) - shortcuts
    # The same layers under the same names, only the projections gone: torchvision's weights fit.
    state = {k: v for k, v in from_torchvision_state_dict(reference.state_dict()).items() if "downsample" not in k}
    plain.load_state_dict(state, assign=True)  # strict
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == (8 if depth == 18 else 16) and not any(b.residual or b.downsample for b in blocks)
    with torch.device("meta"):
        assert plain.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_option_c_on_a_bottleneck_doubles_the_block():
    """The paper's argument against C for the deep nets: on a 256-d bottleneck block the shortcut
    joins two high-dimensional ends, so a projection there (256·256 weights) costs about as much as
    the block itself (256·64 + 9·64·64 + 64·256): time and model size roughly double."""
    with torch.device("meta"):
        model = create_model("resnet50_imagenet", num_classes=1000, shortcut="C")
        a = create_model("resnet50_imagenet", shortcut="A")  # zero-pads 64 -> 256 channels in stage 1
    block = model.layer1[1]
    branch = sum(getattr(block, f"conv{i}").weight.numel() for i in (1, 2, 3))
    assert (block.downsample[0].weight.numel(), branch) == (65_536, 69_632)
    with torch.device("meta"):
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
        assert a.forward_features(torch.randn(1, 3, 224, 224)).shape == (1, 2048, 7, 7)


def test_zero_pad_shortcut_is_subsample_plus_zeros():
    from cnnzoo.models.resnet import ZeroPadShortcut

    x = torch.randn(2, 16, 7, 7)
    y = ZeroPadShortcut(stride=2, extra_channels=16)(x)
    assert y.shape == (2, 32, 4, 4)  # same as a 3×3 stride-2 conv with padding 1
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert (y[:, 16:] == 0).all()


def test_kuangliu_resnet18_shapes():
    model = create_model("resnet18").eval()
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 512, 4, 4)
    assert isinstance(model.maxpool, nn.Identity)


@pytest.mark.parametrize("depth", [18, 50])
def test_imagenet_resnet_equals_torchvision(depth):
    import torchvision

    from cnnzoo.models.resnet import from_torchvision_state_dict

    torch.manual_seed(0)
    reference = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    ours = create_model(f"resnet{depth}_imagenet", num_classes=1000).eval()
    assert n_params(ours) == n_params(reference)
    ours.load_state_dict(from_torchvision_state_dict(reference.state_dict()))  # strict
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)
        assert ours.forward_features(x).shape == (2, 512 if depth == 18 else 2048, 2, 2)


def test_zero_init_residual_makes_blocks_start_as_identity():
    model = create_model("resnet50_imagenet", zero_init_residual=True)
    assert all((block.bn3.weight == 0).all() for block in model.layer1)
    model = create_model("resnet18_imagenet", zero_init_residual=True)
    assert all((block.bn2.weight == 0).all() for block in model.layer4)


@pytest.mark.parametrize("name, default", [
    ("resnet20", False), ("resnet_cifar", False), ("resnet110", False),  # He et al. 2016 (CIFAR)
    ("resnet18", False), ("resnet50", False),  # kuangliu's CIFAR code
    ("resnet18_imagenet", True), ("resnet50_imagenet", True),  # seed 001's ResNet code (review R11)
])  # fmt: skip
def test_zero_init_residual_is_a_knob_of_every_resnet_defaulting_as_its_source(name, default):
    def last_gammas(model):
        return [block.bn3.weight if hasattr(block, "bn3") else block.bn2.weight
                for stage in (model.layer1, model.layer2) for block in stage]

    assert model_knobs(name)["zero_init_residual"] is default
    for flag in (True, False):
        model = create_model(name, zero_init_residual=flag)
        assert all(bool((gamma == 0).all()) is flag for gamma in last_gammas(model)), (name, flag)
    with pytest.raises(ValueError, match="no knob 'zero_init_residual'"):
        create_model("plain20", zero_init_residual=True)  # a zero γ would silence a block without a shortcut


def test_load_imagenet_weights_from_the_hub_cache(tmp_path, monkeypatch):
    import torchvision

    from cnnzoo.models.resnet import imagenet_weights_path, load_imagenet_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = imagenet_weights_path(18)
    assert path == os.path.join(str(tmp_path), "hub", "checkpoints", "resnet18-f37072fd.pth")
    os.makedirs(os.path.dirname(path))
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None).eval()
    torch.save(reference.state_dict(), path)

    model = load_imagenet_weights(create_model("resnet18_imagenet", num_classes=1000), 18).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)

    # Fine-tuning: another number of classes keeps the backbone and a fresh head.
    model = load_imagenet_weights(create_model("resnet18_imagenet", num_classes=10), 18)
    torch.testing.assert_close(model.conv1.weight, reference.conv1.weight)
    assert model.head.fc.weight.shape == (10, 512)

    with pytest.raises(ValueError, match="resnet18_imagenet"):
        load_imagenet_weights(create_model("resnet18"), 18)  # the CIFAR layout does not fit

    with open(path, "wb") as f:  # an interrupted download
        f.write(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="delete it"):
        load_imagenet_weights(create_model("resnet18_imagenet"), 18)


def test_missing_imagenet_weights_say_where_to_put_them(tmp_path, monkeypatch):
    from cnnzoo.models.resnet import load_imagenet_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ValueError) as err:
        load_imagenet_weights(create_model("resnet50_imagenet", num_classes=1000), 50, download=False)
    message = str(err.value)
    assert os.path.join(str(tmp_path), "hub", "checkpoints", "resnet50-") in message
    assert "checkpoints/" in message and "https://download.pytorch.org/" in message
    with pytest.raises(ValueError, match="18, 34, 50, 101, 152"):
        load_imagenet_weights(create_model("resnet50_imagenet"), 51, download=False)


def test_imagenet_class_names():
    from cnnzoo.models.resnet import imagenet_class_names

    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[207] == "golden retriever"


# --------------------------------------------------------------------------------------- VGG

def meta_macs(model: nn.Module, input_size=(3, 224, 224)) -> int:
    """Multiply-accumulates of one image, counted by torch's FlopCounterMode (2 FLOPs per MAC)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model.eval()(torch.randn(1, *input_size))
    return counter.get_total_flops() // 2


VGGS = ["vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]


@pytest.mark.parametrize("name", VGGS)
def test_vgg_equals_torchvision_in_parameters_and_macs(name):
    import torchvision

    from cnnzoo.trace import trace

    with torch.device("meta"):  # 133M-144M parameters: shapes only, no memory
        ours = create_model(name, num_classes=1000)
        reference = getattr(torchvision.models, name)(weights=None)
    # Layer for layer: the same parameter shapes in the same order (conv weight, bias, BN γ, β, ...).
    assert [p.shape for p in ours.parameters()] == [p.shape for p in reference.parameters()]
    macs = meta_macs(ours)
    assert macs == meta_macs(reference) == trace(ours, (3, 224, 224), device="meta").total_macs
    # torchvision's published numbers (its "GFLOPS" are MACs), offline in the weights' metadata.
    meta = getattr(torchvision.models, f"{name.upper()}_Weights").IMAGENET1K_V1.meta
    assert n_params(ours) == meta["num_params"]
    assert macs / 1e9 == pytest.approx(meta["_ops"], abs=5e-4)  # published to 3 decimals


def test_vgg_and_resnet_complexity_as_the_papers_give_it():
    """He et al. sec. 3.3: the 34-layer plain net has 3.6 billion FLOPs (multiply-adds), 18% of
    VGG-19's 19.6 billion, and the residual one (option A) the same; VGG-16 needs 15.5."""
    with torch.device("meta"):
        nets = {"vgg16": create_model("vgg16", num_classes=1000), "vgg19": create_model("vgg19", num_classes=1000),
                "plain34": create_model("plain34_imagenet", num_classes=1000),
                "resnet34 A": create_model("resnet34_imagenet", num_classes=1000, shortcut="A"),
                "resnet34 B": create_model("resnet34_imagenet", num_classes=1000)}
    gmacs = {name: meta_macs(model) / 1e9 for name, model in nets.items()}
    assert round(gmacs["vgg19"], 1) == 19.6 and round(gmacs["vgg16"], 1) == 15.5
    # Identity shortcuts cost an addition, which is not counted: A is exactly the plain net.
    assert gmacs["resnet34 A"] == gmacs["plain34"] == pytest.approx(3.64, abs=0.005)
    assert gmacs["resnet34 B"] == pytest.approx(3.66, abs=0.005)  # + 3 projections (torchvision's 3.66)
    assert gmacs["plain34"] / gmacs["vgg19"] == pytest.approx(0.18, abs=0.01)


def toy_vgg(batch_norm: bool, **kwargs):
    """VGG-11's code at a tiny width (VGG's real widths take seconds just to initialise)."""
    from cnnzoo.models.vgg import CONFIGS, VGG

    return VGG(CONFIGS[11], batch_norm, widths=(4, 8, 8, 16, 16), hidden=32, **kwargs)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_toy_forward_backward(batch_norm):
    torch.manual_seed(0)
    model = toy_vgg(batch_norm, num_classes=7).train()
    x = torch.randn(2, 3, 32, 32)
    logits = model(x)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == (8 if batch_norm else 0)
    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape == (2, 16, 1, 1)  # five 2×2 pools: 32 -> 1
        torch.testing.assert_close(model.forward_head(features), model(x))  # eval: no dropout
        assert model.forward_features(torch.randn(1, 3, 224, 224)).shape == (1, 16, 7, 7)


def test_vgg_init_is_torchvisions():
    """Convs ~ N(0, 2 / fan_out) (He et al. 2015), fc layers ~ N(0, 0.01²), every bias 0."""
    torch.manual_seed(0)
    model = toy_vgg(True, num_classes=10)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.weight.numel() >= 400:
            expected = (2 / (9 * module.out_channels)) ** 0.5
            assert module.weight.std().item() == pytest.approx(expected, rel=0.15)
        if isinstance(module, nn.Linear) and module.weight.numel() >= 400:
            assert module.weight.std().item() == pytest.approx(0.01, rel=0.15)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            assert (module.bias == 0).all()


@pytest.mark.parametrize(
    "knobs, words",
    [({"dropout": 1.0}, ["dropout", "[0, 1)", "0.5"]), ({"num_classes": 0}, ["num_classes"]),
     ({"in_channels": 0}, ["in_channels"])],
)
def test_vgg_impossible_knobs(knobs, words):
    with pytest.raises(ValueError) as err:
        create_model("vgg11", **knobs)
    assert all(word in str(err.value) for word in words)


# ------------------------------------------------------------------------------- Wide ResNet

@pytest.mark.parametrize(
    "name, published",  # Zagoruyko & Komodakis, Table 5 / sec. 3 (millions, one decimal)
    [("wide_resnet28_10", 36.5e6), ("wide_resnet40_2", 2.2e6), ("wide_resnet40_4", 8.9e6),
     ("wide_resnet16_8", 11.0e6)],
)
def test_wide_resnet_parameter_counts(name, published):
    count = n_params(create_model(name))
    assert round(count / 1e5) * 1e5 == pytest.approx(published), count


def test_wide_resnet_shapes_and_generic_builder():
    model = create_model("wide_resnet", depth=10, widen_factor=2, dropout=0.3, in_channels=1).eval()
    assert len(model.stage1) == 1  # n = (10 - 4) / 6
    with torch.no_grad():
        assert model.forward_features(torch.randn(2, 1, 28, 28)).shape == (2, 128, 7, 7)
        assert model.forward_features(torch.randn(2, 1, 32, 32)).shape == (2, 128, 8, 8)
    # A projection only where the shape changes: stage 1 (16 -> 32 ch), 2 and 3 (stride 2).
    assert [block.shortcut is not None for block in (model.stage1[0], model.stage2[0], model.stage3[0])] == [True] * 3
    assert create_model("wide_resnet", depth=16, widen_factor=1).stage1[0].shortcut is None


@pytest.mark.parametrize(
    "knobs, words",
    [({"depth": 27}, ["6n + 4", "16", "28", "40"]), ({"widen_factor": 0}, ["widen_factor"]),
     ({"dropout": 1.5}, ["dropout", "[0, 1)"])],
)
def test_wide_resnet_impossible_knobs(knobs, words):
    with pytest.raises(ValueError) as err:
        create_model("wide_resnet", **knobs)
    assert all(word in str(err.value) for word in words)


# ---------------------------------------------------------------------------------- DenseNet

def test_densenet_bc_100_parameter_count():
    count = n_params(create_model("densenet_bc_100_k12"))
    assert round(count / 1e5) * 1e5 == pytest.approx(0.8e6), count  # Huang et al. Table 2


def test_densenet_generic_builder_matches_named_one_and_paper_counts():
    assert n_params(create_model("densenet", depth=100)) == n_params(create_model("densenet_bc_100_k12"))
    # DenseNet (L = 40, k = 12): no bottleneck, no compression, 16-channel stem: 1.0M in Table 2.
    basic = create_model("densenet", depth=40, growth_rate=12, bottleneck=False, reduction=1.0)
    assert round(n_params(basic) / 1e5) * 1e5 == pytest.approx(1.0e6)
    assert basic.conv0.out_channels == 16


def test_densenet_channel_bookkeeping():
    model = create_model("densenet_bc_100_k12").eval()
    assert model.conv0.out_channels == 24  # stem: 2k
    with torch.no_grad():
        # 24 + 16·12 = 216 -> θ: 108 -> + 192 = 300 -> 150 -> + 192 = 342
        assert model.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 342, 8, 8)
        assert model.forward_features(torch.randn(1, 3, 28, 28)).shape == (1, 342, 7, 7)
    dense121 = create_model("densenet121").eval()
    with torch.no_grad():
        assert dense121.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 1024, 4, 4)
        with pytest.raises(ValueError, match="at least 8×8"):
            dense121(torch.randn(1, 3, 7, 7))


@pytest.mark.parametrize(
    "knobs, words",
    [({"depth": 99}, ["6n + 4", "100", "250"]), ({"depth": 41, "bottleneck": False}, ["3n + 4", "40"]),
     ({"reduction": 0.0}, ["reduction", "0.5"]), ({"growth_rate": 0}, ["growth_rate"])],
)
def test_densenet_impossible_knobs(knobs, words):
    with pytest.raises(ValueError) as err:
        create_model("densenet", **knobs)
    assert all(word in str(err.value) for word in words)


# --------------------------------------------------------------------------------- Inception

def test_inception_module_is_the_tutorials():
    from cnnzoo.models.inception import InceptionModule

    module = InceptionModule(10)
    assert module.out_channels == 88  # 16 + 24 + 24 + 24
    assert module(torch.randn(2, 10, 12, 12)).shape == (2, 88, 12, 12)


def test_inception_mnist_matches_the_tutorial_layout():
    model = create_model("inception_mnist").eval()
    assert model.fc.in_features == 1408 and model.conv2.in_channels == 88
    with torch.no_grad():
        assert model.forward_features(torch.randn(2, 1, 28, 28)).shape == (2, 88, 4, 4)
        # Logits, not log-probabilities: cross-entropy adds the log-softmax.
        assert not torch.allclose(model(torch.randn(2, 1, 28, 28)).logsumexp(1), torch.zeros(2))


def test_inception_mnist_needs_28x28():
    model = create_model("inception_mnist").eval()
    with pytest.raises(ValueError, match="28×28"):
        model(torch.randn(1, 1, 32, 32))


def test_googlenet_small_has_a_cam_ready_head():
    model = create_model("googlenet_small").eval()
    assert isinstance(model.head.fc, nn.Linear) and model.head.pool == "avg"
    with torch.no_grad():
        assert model.forward_features(torch.randn(1, 3, 32, 32)).shape == (1, 192, 8, 8)
        assert model(torch.randn(1, 1 + 2, 48, 48)).shape == (1, 10)  # any size works


# --------------------------------------------------------------------------------------- GAN

@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_gan_shapes_and_ranges(image_size, channels):
    torch.manual_seed(0)
    generator = create_model("dcgan_generator", out_channels=channels, image_size=image_size, width=8)
    discriminator = create_model("dcgan_discriminator", in_channels=channels, image_size=image_size, width=8)
    images = generator(torch.randn(4, 100))
    assert images.shape == (4, channels, image_size, image_size)
    assert images.min() >= -1 and images.max() <= 1
    p_real = discriminator(images)
    assert p_real.shape == (4,) and ((p_real > 0) & (p_real < 1)).all()
    p_real.mean().backward()
    assert next(generator.parameters()).grad.abs().sum() > 0  # D's verdict trains G


def test_gan_registry_kinds():
    assert get_entry("dcgan_generator").kind == "generator"
    assert get_entry("dcgan_discriminator").kind == "discriminator"
    assert get_entry("wgan_critic").kind == "discriminator"
    assert "dcgan_generator" not in CLASSIFIERS


def test_dcgan_paper_widths_and_the_cpu_demo_size():
    generator = create_model("dcgan_generator", image_size=64, width=128)
    transposed = [m.out_channels for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert transposed == [1024, 512, 256, 128, 1]  # the DCGAN paper's Figure 1 (64×64 Fashion-MNIST in the code review)
    small = create_model("dcgan_generator", image_size=32, width=20)
    assert 0.18e6 < n_params(small) < 0.22e6


def test_wgan_critic_is_the_discriminator_without_sigmoid():
    torch.manual_seed(0)
    discriminator = create_model("dcgan_discriminator", image_size=32, width=8).eval()
    critic = create_model("wgan_critic", image_size=32, width=8).eval()
    critic.load_state_dict(discriminator.state_dict())  # the same network, weight for weight
    x = torch.randn(3, 1, 32, 32) * 5
    with torch.no_grad():
        score = critic(x)
        torch.testing.assert_close(torch.sigmoid(score), discriminator(x))
        nn.init.constant_(critic.net[-1].bias, 3.0)  # the score is unbounded
        assert (critic(x) > 1).all()


def test_dcgan_init():
    generator = create_model("dcgan_generator", width=32)
    conv_weights = torch.cat([m.weight.flatten() for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)])
    gammas = torch.cat([m.weight for m in generator.modules() if isinstance(m, nn.BatchNorm2d)])
    assert conv_weights.mean().abs() < 1e-3 and abs(conv_weights.std() - 0.02) < 1e-3
    assert abs(gammas.mean() - 1) < 0.01 and abs(gammas.std() - 0.02) < 0.01


@pytest.mark.parametrize(
    "name, knobs, words",
    [("dcgan_generator", {"image_size": 48}, ["32 or 64"]), ("dcgan_discriminator", {"width": 0}, ["width"]),
     ("wgan_critic", {"image_size": 28}, ["32 or 64"])],
)
def test_gan_impossible_knobs(name, knobs, words):
    with pytest.raises(ValueError) as err:
        create_model(name, **knobs)
    assert all(word in str(err.value) for word in words)


def test_gan_wrong_input_shapes_say_what_fits():
    with pytest.raises(ValueError, match="1, 32, 32"):
        create_model("dcgan_discriminator", image_size=32, width=8)(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 100\)"):
        create_model("dcgan_generator", image_size=32, width=8)(torch.randn(2, 64))
