"""cnnzoo.responses: the ResNet paper's Figure 7 hook points, response stds against brute force,
gradient norms that leave the model untouched, and the initial weights a checkpoint started from."""
import pytest
import torch
import torch.nn.functional as F

from cnnzoo import create_model
from cnnzoo.checkpoints import initial_model
from cnnzoo.compute import normalize
from cnnzoo.inside import capture
from cnnzoo.responses import gradient_norms, layer_responses, response_points
from cnnzoo.trainer import TrainConfig, Trainer

MEAN, STD = (0.5,), (0.25,)


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randint(0, 256, (20, 1, 16, 16), dtype=torch.uint8), torch.randint(0, 10, (20,))


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_the_points_are_every_3x3_layer_after_bn_before_relu_or_addition(name):
    """Figure 7's 'outputs of each 3×3 layer, after BN and before other nonlinearity': the stem and
    both convs of each of the 9 blocks, 19 for a 20-layer net; never a shortcut projection."""
    model = create_model(name, in_channels=1, shortcut="B") if name == "resnet20" else create_model(name, in_channels=1)
    points = response_points(model, (1, 16, 16))
    assert len(points) == 19
    assert points[:3] == [("conv1", "bn1"), ("layer1.0.conv1", "layer1.0.bn1"), ("layer1.0.conv2", "layer1.0.bn2")]
    assert all("downsample" not in conv + bn for conv, bn in points)
    assert hook_count(model) == 0


def test_imagenet_nets_measure_their_3x3_layers_only():
    model = create_model("resnet18_imagenet")  # a 7×7 stem, 1×1 projections: not 3×3 layers
    assert len(response_points(model, (3, 64, 64))) == 16
    bottleneck = response_points(create_model("resnet50_imagenet"), (3, 64, 64))
    assert len(bottleneck) == 16 and all(conv.endswith("conv2") for conv, _ in bottleneck)


def test_response_stds_equal_the_std_of_all_outputs_over_the_set(images):
    torch.manual_seed(1)
    model = create_model("resnet20", in_channels=1).eval()
    stds = layer_responses(model, images[0], MEAN, STD, batch_size=6)  # batches of 6, 6, 6, 2
    assert hook_count(model) == 0
    names = list(stds)
    with torch.no_grad(), capture(model, names) as caught:
        model(normalize(images[0], MEAN, STD))
    for name in names:
        assert stds[name] == pytest.approx(float(caught[name].double().std(unbiased=False)), rel=1e-6)
    with pytest.raises(ValueError, match="no 3×3 convolution followed by batch norm"):
        layer_responses(create_model("inception_mnist"), torch.zeros(2, 1, 28, 28, dtype=torch.uint8), MEAN, STD)


def test_gradient_norms_are_the_true_gradients_and_leave_the_model_as_it_was(images):
    torch.manual_seed(2)
    model = create_model("plain20", in_channels=1).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = gradient_norms(model, *images, MEAN, STD)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics too
    assert all(p.grad is None for p in model.parameters()) and not model.training
    reference = create_model("plain20", in_channels=1)
    reference.load_state_dict(before)
    F.cross_entropy(reference.train()(normalize(images[0], MEAN, STD)), images[1]).backward()
    assert len(norms) == 19
    for name, norm in norms.items():
        assert norm == pytest.approx(float(dict(reference.named_modules())[name].weight.grad.norm()), rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 images"):
        gradient_norms(model, images[0][:1], images[1][:1], MEAN, STD)


def test_initial_model_rebuilds_the_weights_training_started_from():
    trainer = Trainer(TrainConfig(model="simple_cnn", knobs=dict(width=4), dataset="digits", image_size=8, seed=7))
    trainer.setup()
    meta = {"model": "simple_cnn", "knobs": trainer.model_knobs(), "train_config": {"seed": 7}}
    state = torch.get_rng_state()
    rebuilt = initial_model(meta)
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key].cpu(), value.cpu()), key
    with pytest.raises(ValueError, match="does not record the seed"):
        initial_model({"model": "simple_cnn", "knobs": {}})
