"""Both command lines keep their flags: scripts and the README call them."""
import re

import pytest

from train import classifier, gan

CLASSIFIER_FLAGS = {
    "--recipe", "--list-recipes", "--model", "--knobs", "--dataset", "--dataset-path", "--image-size", "--epochs",
    "--batch-size", "--optimizer", "--lr", "--momentum", "--nesterov", "--no-nesterov", "--weight-decay",
    "--schedule", "--gamma", "--warmup-epochs", "--label-smoothing", "--augment", "--no-augment", "--seed",
    "--train-subset", "--val-fraction", "--evals-per-epoch", "--device", "--precision", "--sync-batchnorm", "--no-sync-batchnorm", "--time-limit", "--out", "--cam-probe",
    "--resume", "--tensorboard", "--trackio", "--help",
}  # fmt: skip
GAN_FLAGS = {
    "--model", "--dataset", "--image-size", "--width", "--latent-dim", "--batch-size", "--lr", "--beta1", "--clip",
    "--n-critic", "--g-noise", "--optimizer", "--steps", "--epochs", "--seed", "--sample-every", "--scorer",
    "--score-every", "--device",
    "--time-limit", "--out", "--resume", "--tensorboard", "--trackio", "--help",
}  # fmt: skip


@pytest.mark.parametrize("cli, flags", [(classifier, CLASSIFIER_FLAGS), (gan, GAN_FLAGS)], ids=["classifier", "gan"])
def test_the_flags_stay(cli, flags, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--help"])
    assert set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", capsys.readouterr().out)) == flags


def test_flags_reach_the_config_by_name(tmp_path):
    args = classifier.parse_args(["--model", "resnet20", "--time-limit", "30", "--out", str(tmp_path), "--cam-probe", "4",
                                  "--no-augment", "--warmup-epochs", "1"])
    config = classifier.config_from_args(args)
    assert (config.model, config.time_limit_s, config.out_dir, config.cam_probe, config.augment, config.warmup_epochs) == (
        "resnet20", 30.0, str(tmp_path), 4, False, 1.0)
    args = gan.parse_args(["--model", "wgan", "--n-critic", "3", "--scorer", "none", "--out", str(tmp_path)])
    config = gan.config_from_args(args)
    assert (config.model, config.n_critic, config.scorer, config.out_dir) == ("wgan", 3, None, str(tmp_path))
