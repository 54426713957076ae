"""The model zoo: every registered model is built and run here, so a new model is tested for free.

Registry-wide (timm style): forward + backward, output shape, the features/head seam, no NaN,
gradients reaching the first conv, the global-max-pool head. Then the numbers the papers and
torchvision publish (parameter counts, identical outputs with torchvision weights), the
errors a user can cause, and the GAN shapes.
"""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn

from cnnzoo.registry import create_model, get_entry, list_models, model_knobs

CLASSIFIERS = list_models(kind="classifier")

# Nets whose forward/backward at 32×32 costs more than ~0.3 s per image on a busy 2-core CPU
# run with one image per batch-norm-safe batch of 2 in every test; all others with 4.
HEAVY = {"resnet101", "resnet152", "wide_resnet28_10", "wide_resnet", "densenet_bc_250_k24"}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def input_for(name: str, batch: int) -> torch.Tensor:
    """A random batch of the size the model was designed for: 1×28×28 for the MNIST net, else 3×32×32."""
    torch.manual_seed(0)
    if name == "inception_mnist":
        return torch.randn(batch, 1, 28, 28)
    return torch.randn(batch, 3, 32, 32)


def first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


# ----------------------------------------------------------------------------- registry-wide

@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_forward_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, in_channels=1 if name == "inception_mnist" else 3)
    x = input_for(name, 2 if name in HEAVY else 4)

    model.train()
    logits = model(x)
    assert logits.shape == (x.shape[0], 7)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).mean().backward()
    grad = first_conv(model).weight.grad
    assert grad is not None and grad.abs().sum() > 0, "no gradient reached the first conv"

    model.eval()
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.dim() == 4, "forward_features must return (N, C, h, w)"
        torch.testing.assert_close(model.forward_head(features), model(x))


@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if "pool" in model_knobs(n)])
def test_global_max_pool_head(name):
    model = create_model(name, num_classes=5, pool="max").eval()
    x = input_for(name, 2)
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
        assert knobs["num_classes"] == 10 and knobs["in_channels"] == 3, name
        if name != "inception_mnist":  # its head is the seed's flatten + fc, not global pooling
            assert knobs["pool"] == "avg", name


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
        ("resnet20", {"shortcut": "C"}, ["'A'", "'B'"]),
        ("resnet20", {"pool": "mean"}, ["avg", "max"]),
    ],
)
def test_impossible_knobs_say_what_is_valid(name, knobs, words):
    with pytest.raises(ValueError) as err:
        create_model(name, **knobs)
    for word in words:
        assert word in str(err.value)


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
