"""cnnzoo.recipes against the seeds and the papers they name: every recipe's and GAN preset's
settings, the rows of /work/shared/reviews/seed-fidelity.md they answer (in the comments), the
normalisation choice, the Train form's round trip and the CLI's listing."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cnnzoo import data as datasets
from cnnzoo.gan_trainer import GANConfig
from cnnzoo.recipes import GAN_PRESETS, RECIPES, SOURCES
from cnnzoo.registry import model_knobs
from cnnzoo.trainer import TrainConfig, Trainer


def config(name: str) -> TrainConfig:
    return TrainConfig.from_dict(RECIPES[name])


def test_every_recipe_and_preset_is_a_valid_config_with_a_source():
    for name, recipe in RECIPES.items():
        assert set(recipe) <= {f.name for f in dataclasses.fields(TrainConfig)}, name
        TrainConfig(**recipe).validate()
    for name, preset in GAN_PRESETS.items():
        GANConfig(**preset).validate()
    assert not set(RECIPES) & set(GAN_PRESETS)
    assert set(SOURCES) == set(RECIPES) | set(GAN_PRESETS) and all(SOURCES.values())


def test_inception_mnist_is_the_tutorials_run():
    c = config("inception-mnist")
    assert (c.model, c.dataset, c.batch_size) == ("inception_mnist", "mnist", 64)  # I2, I3: batch_size = 64
    assert (c.optimizer, c.lr, c.momentum, c.nesterov) == ("sgd", 0.01, 0.5, False)  # I3: SGD(lr=0.01, momentum=0.5)
    assert c.epochs == len(range(1, 10)) == 9  # I4, E7: `for epoch in range(1, 10)`
    assert c.normalisation == "none"  # I5: transform = transforms.ToTensor() only
    assert (c.augment, c.weight_decay, c.schedule) == (False, 0.0, "constant")  # no augmentation, wd or scheduler
    assert "seed 002" in SOURCES["inception-mnist"]


def test_resnet18_cifar10_is_the_resnet_tutorials_code():
    c = config("resnet18-cifar10")
    # RT1: SGD(lr=0.1, momentum=0.9, weight_decay=5e-4), CosineAnnealingLR(T_max=200), 200 epochs, batch 128
    assert (c.model, c.dataset, c.epochs, c.batch_size) == ("resnet18", "cifar10", 200, 128)
    assert (c.optimizer, c.lr, c.momentum, c.nesterov, c.weight_decay, c.schedule) == ("sgd", 0.1, 0.9, False, 5e-4, "cosine")
    assert c.augment  # RT2: RandomCrop(32, padding=4) + RandomHorizontalFlip
    assert c.normalisation == "seeds-cifar"  # RT3: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    assert "seed 000 d" in SOURCES["resnet18-cifar10"]


WRN_EPOCHS = [60, 120, 160]  # WT1: MultiStepLR(milestones=[60, 120, 160], gamma=0.2) over range(200)


@pytest.mark.parametrize("name, model, nesterov, normalisation, source", [
    ("wrn-40-2-cifar10", "wide_resnet40_2", False, "seeds-cifar", "seed 000 b"),  # WT1, WT2 (the code), RT3/WT3
    ("wrn-40-2-cifar10-paper", "wide_resnet40_2", True, "dataset", "Zagoruyko & Komodakis"),  # WT2, WT3, E6
    ("wrn-28-10-cifar10", "wide_resnet28_10", True, "dataset", "Zagoruyko & Komodakis"),  # the paper's WRN-28-10
])  # fmt: skip
def test_the_wrn_recipes_name_their_momentum(name, model, nesterov, normalisation, source):
    c = config(name)
    assert (c.model, c.knobs, c.dataset, c.epochs, c.batch_size) == (model, {"dropout": 0.3}, "cifar10", 200, 128)  # W5
    assert (c.optimizer, c.lr, c.momentum, c.weight_decay) == ("sgd", 0.1, 0.9, 5e-4)  # lr 0.1, m 0.9, wd 0.0005
    assert (c.schedule, c.gamma) == ("multistep", 0.2) and [round(m * c.epochs) for m in c.milestones] == WRN_EPOCHS
    assert (c.nesterov, c.normalisation) == (nesterov, normalisation)  # E6: the code's plain, the paper's Nesterov
    assert source in SOURCES[name] and ("Nesterov" in SOURCES[name]) == nesterov


def test_resnet20_cifar10_is_he_et_al():
    c = config("resnet20-cifar10")  # RT10: SGD 0.1, m 0.9, wd 1e-4, batch 128, /10 at 32k and 48k of 64k iterations
    assert (c.model, c.lr, c.momentum, c.nesterov, c.weight_decay, c.batch_size) == ("resnet20", 0.1, 0.9, False, 1e-4, 128)
    steps = c.epochs * (50_000 // 128)  # 390 steps an epoch
    assert steps == pytest.approx(64_000, rel=0.01) and c.gamma == 0.1
    assert [m * steps for m in c.milestones] == pytest.approx([32_000, 48_000], rel=0.01)
    assert c.normalisation == "dataset" and SOURCES["resnet20-cifar10"].startswith("He et al. 2016")


def gan(name: str) -> GANConfig:
    return GANConfig(**GAN_PRESETS[name])


def test_the_dcgan_preset_is_the_dcgan_tutorials_run():
    c = gan("dcgan-fashion64-seed")
    assert (c.model, c.dataset, c.image_size) == ("dcgan", "fashion-mnist", 64)  # G3: Resize(64) of FashionMNIST
    assert (c.width, c.latent_dim) == (128, 100)  # G1: ConvT 100 -> 1024 -> 512 -> 256 -> 128 -> C
    assert (c.learning_rate, c.beta1, c.beta2) == (2e-4, 0.5, 0.999)  # G4: Adam(lr=0.0002, betas=(0.5, 0.999))
    assert c.batch_size == 128  # E2: the DCGAN paper's mini-batches of 128 (the seed's BATCH_SIZE is not shown)
    assert (c.seed, c.sample_every) == (999, 100)  # G12: manual_seed(999); G9: a grid every 100 batches


@pytest.mark.parametrize("name, clip", [("wgan-mnist32-seed", 0.005), ("wgan-mnist32-paper", 0.01)])
def test_the_wgan_presets_carry_the_seeds_clip_and_the_papers(name, clip):
    c = gan(name)
    assert (c.model, c.dataset, c.image_size, c.width) == ("wgan", "mnist", 32, 256)  # WG1: Resize(32); WG2: 1024-512-256
    assert (c.latent_dim, c.learning_rate, c.n_critic) == (100, 5e-5, 5)  # WG4: latent 100, RMSprop 5e-5, n_critic 5
    assert c.clip == clip  # WG5: clip_value = 0.005 in the code; WG16: the paper's c = 0.01
    assert c.batch_size == 64 and c.sample_every * c.n_critic == 400  # WG16: m = 64; WG8: sample_interval = 400 batches
    assert ("seed 000 f" if clip == 0.005 else "Arjovsky et al. 2017") in SOURCES[name]


def test_the_digits_presets_are_the_gan_tabs_defaults():
    defaults = GANConfig()
    assert gan("dcgan-digits") == defaults
    assert gan("wgan-digits") == dataclasses.replace(defaults, model="wgan")


def test_normalisation_dataset_is_still_the_default():
    assert TrainConfig().normalisation == "dataset"
    assert all(config(name).normalisation == "dataset" for name in ("digits-fast", "shapes-cam", "resnet20-digits"))
    digits = datasets.load_dataset("digits", "train")
    assert datasets.with_normalisation(digits, "dataset") is digits


def test_the_normalisations_give_the_seeds_numbers():
    shapes = datasets.make_shapes(4, image_size=32)
    seeds = datasets.with_normalisation(shapes, "seeds-cifar")
    assert (seeds.mean, seeds.std) == ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))  # RT3
    assert seeds.images is shapes.images  # the pixels are shared, only the statistics change
    digits = datasets.load_dataset("digits", "test")
    plain = datasets.with_normalisation(digits, "none")  # I5: ToTensor() only
    assert (plain.mean, plain.std) == ((0.0,), (1.0,))
    assert torch.equal(datasets.normalize(plain.images[:2], plain.mean, plain.std), plain.images[:2].float() / 255)
    with pytest.raises(ValueError, match="colour images"):
        datasets.with_normalisation(digits, "seeds-cifar")
    with pytest.raises(ValueError, match="normalisation must be one of"):
        datasets.with_normalisation(digits, "imagenet")
    with pytest.raises(ValueError, match="colour images, not mnist"):
        TrainConfig(dataset="mnist", normalisation="seeds-cifar").validate()


def test_the_trainer_normalises_as_the_config_says_and_records_it(tmp_path):
    run = dict(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=1, batch_size=32, train_subset=64)
    trainer = Trainer(TrainConfig(**run, normalisation="none", val_fraction=0.2, out_dir=str(tmp_path)))
    trainer.load_data()
    for split in (trainer.train_set, trainer.val_set, trainer.test_set):
        assert (split.mean, split.std) == ((0.0,), (1.0,))
    trainer = Trainer(TrainConfig(**run))
    trainer.load_data()
    assert trainer.test_set.mean == datasets.load_dataset("digits", "train").mean != (0.0,)


def form_of(name: str) -> dict:
    """The Train form as choosing the recipe fills it (the other fields at the tab's values)."""
    from ui.common import KNOBS
    from ui.recipes_view import form_values

    values = form_values(name)
    knobs = {**model_knobs(values["model_name"]), **values.pop("knobs")}  # ui.common.knob_updates shows these
    return {**dict.fromkeys(KNOBS), **knobs, **values, "folder_zip": None, "cam_timeline": False, "probe_index": 0}


@pytest.mark.parametrize("name", RECIPES)
def test_the_train_form_carries_every_setting_of_every_recipe(name):
    from ui.train_tab import config_from_form

    expected = TrainConfig.from_dict(RECIPES[name])
    got = config_from_form(form_of(name))
    for field in set(RECIPES[name]) - {"knobs"}:
        assert getattr(got, field) == getattr(expected, field), field
    defaults = model_knobs(expected.model)  # the form sends every knob the model has, at its value
    assert {**defaults, **got.knobs} == {**defaults, **expected.knobs}
    assert (got.nesterov, got.gamma, tuple(got.milestones)) == (expected.nesterov, expected.gamma, tuple(expected.milestones))


def test_the_form_maps_the_new_choices_onto_the_config():
    from ui.recipes_view import form_values, optimizer_fields, schedule_fields

    assert optimizer_fields("sgd-nesterov") == dict(optimizer="sgd", nesterov=True)
    assert optimizer_fields("adam") == dict(optimizer="adam")
    assert schedule_fields("multistep-he") == dict(schedule="multistep", gamma=0.1, milestones=(0.5, 0.75))
    assert schedule_fields("multistep") == dict(schedule="multistep")  # TrainConfig's ×0.2 at 30/60/80%
    assert form_values("wrn-40-2-cifar10")["optimizer"] == "sgd"
    assert form_values("wrn-40-2-cifar10-paper")["optimizer"] == "sgd-nesterov"
    with pytest.raises(ValueError, match="no recipe 'nope'"):
        form_values("nope")


def test_list_recipes_prints_each_recipe_with_its_source(capsys):
    from train import classifier

    assert classifier.main(["--list-recipes"]) == 0
    listing = capsys.readouterr().out
    for name in RECIPES:
        assert f"{name:24s} {SOURCES[name]}" in listing
    assert '"nesterov": true' in listing and '"normalisation": "seeds-cifar"' in listing
