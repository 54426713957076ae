"""The GAN training loop: DCGAN and WGAN updates, events, stop/resume, checkpoints, the score, the CLI."""
import csv
import math
import threading

import pytest
import torch
from conftest import torch_threads

import cnnzoo.gan_trainer as gan_trainer
from cnnzoo.gan_trainer import GANConfig, GANTrainer, clip_weights_, frozen
from cnnzoo.latent import load_generator, sample_grid
from cnnzoo.registry import create_model
from cnnzoo.quality import histogram_score, load_classifier, reference_scores, score_generator

# Tiny runs: a 4-wide GAN on 32×32 digits, batches of 16, a 2×2 fixed-noise grid, no scorer.
TINY = dict(dataset="digits", image_size=32, width=4, batch_size=16, num_samples=4, log_every=1,
            sample_every=2, scorer=None)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: see conftest.torch_threads


def run_all(trainer, stop=None):
    return list(trainer.run(stop))


@pytest.mark.parametrize("bad, text", [
    (dict(model="vae"), "model must be"),
    (dict(dataset="cifar10"), "dataset must be"),
    (dict(image_size=28), "image size"),
    (dict(width=0), "width"),
    (dict(batch_size=1), "batch size"),
    (dict(lr=0.0), "learning rate"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(clip=-0.01), "clip"),
    (dict(n_critic=0), "n_critic"),
    (dict(steps=10, epochs=1.0), "not both"),
    (dict(num_samples=1000), "sample grid"),
    (dict(g_noise="new"), "g_noise must be one of"),
    (dict(optimizer="sgd"), "optimizer must be one of"),
])
def test_config_errors_say_what_to_do(bad, text):
    with pytest.raises(ValueError, match=text):
        GANConfig(**bad).validate()


def test_paper_learning_rates_by_default():
    assert GANConfig(model="dcgan").learning_rate == 2e-4
    assert GANConfig(model="wgan").learning_rate == 5e-5
    assert GANConfig(model="wgan", lr=1e-4).learning_rate == 1e-4


def test_the_generator_step_draws_fresh_noise_by_default_as_the_seeds_code(monkeypatch):
    """Seed 000(h), review G7: the tutorial's G step samples new z; "same" reuses the D step's fakes."""
    drawn = {}
    for g_noise in ("fresh", "same"):
        trainer = GANTrainer(GANConfig(model="dcgan", steps=2, g_noise=g_noise, **TINY))
        calls = []
        original = trainer.noise
        monkeypatch.setattr(trainer, "noise", lambda *numbers, _o=original: calls.append(numbers) or _o(*numbers))
        run_all(trainer)
        drawn[g_noise] = calls
    assert drawn["fresh"] == [(0, 0), (0, 1), (1, 0), (1, 1)]  # D's fakes, then G's own, each step
    assert drawn["same"] == [(0, 0), (1, 0)]
    assert GANConfig().g_noise == "fresh"


def test_stored_runs_resume_with_the_noise_they_were_trained_with(tmp_path):
    """A run stored before g_noise existed reused D's fakes: resuming it must go on doing so."""
    from cnnzoo.checkpoints import save_training_state
    from cnnzoo.runs import open_run

    stored = GANConfig(model="dcgan", steps=4, **TINY).to_dict()
    del stored["g_noise"]
    state = save_training_state(tmp_path / "generator.state.pt", {"config": stored})
    config, _ = open_run(GANConfig, None, state, None)
    assert config.g_noise == "same"
    assert GANConfig.from_dict({}).g_noise == "fresh"  # a new run gets the seed's fresh noise


def test_wgan_can_train_with_adam_to_try_the_papers_remark():
    """Seed 000(g), review WG12: RMSprop is the paper's choice; Adam can be chosen to compare."""
    paper = GANTrainer(GANConfig(model="wgan", steps=1, n_critic=1, **TINY))
    adam = GANTrainer(GANConfig(model="wgan", steps=1, n_critic=1, optimizer="adam", **TINY))
    run_all(paper)
    run_all(adam)
    assert isinstance(paper.optimizer_d, torch.optim.RMSprop) and isinstance(adam.optimizer_d, torch.optim.Adam)
    assert adam.optimizer_g.defaults["betas"] == (0.5, 0.999) and adam.optimizer_g.defaults["lr"] == 5e-5
    dcgan = GANTrainer(GANConfig(model="dcgan", steps=1, optimizer="rmsprop", **TINY))
    run_all(dcgan)
    assert isinstance(dcgan.optimizer_g, torch.optim.RMSprop)


def test_dcgan_events_are_well_formed_and_losses_finite(tmp_path):
    trainer = GANTrainer(GANConfig(model="dcgan", steps=6, out_dir=str(tmp_path), **TINY))
    events = run_all(trainer)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[-1].reason == "done"
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == [1, 2, 3, 4, 5, 6]
    for e in steps:
        assert math.isfinite(e.d_loss) and math.isfinite(e.g_loss)
        assert 0 < e.d_real < 1 and 0 < e.d_fake < 1  # D's outputs are probabilities
        assert e.wasserstein is None and e.images_per_s > 0 and e.eta_s >= 0
    # BCE of D on a real and a fake batch is at most 2·ln 2 ≈ 1.39 at the start (D(·) ≈ 0.5)
    assert steps[0].d_loss == pytest.approx(2 * math.log(2), abs=0.3)
    samples = [e for e in events if e.kind == "sample"]
    assert [e.step for e in samples] == [0, 2, 4, 6]  # before training, every 2 steps, at the end
    assert all(e.samples.dtype == torch.uint8 and tuple(e.samples.shape) == (70, 70, 1) for e in samples)
    # the samples stay out of the history (small events for CSV and JSON)
    assert all("samples" not in row for row in trainer.history)
    end = events[-1]
    for name in ("generator.safetensors", "discriminator.safetensors", "generator.state.pt",
                 "samples.png", "progress.gif"):
        assert (tmp_path / name).exists(), name
    assert end.checkpoint == str(tmp_path / "generator.safetensors")
    assert end.gif == str(tmp_path / "progress.gif")


def _instrument(trainer, clip):
    """Record the order of optimizer steps and the largest critic weight seen by every critic call."""
    order, seen = [], []
    trainer.optimizer_d.register_step_post_hook(lambda *a: order.append("D"))
    trainer.optimizer_g.register_step_post_hook(lambda *a: order.append("G"))

    def before_critic(module, args):
        largest = max(p.abs().max().item() for p in module.parameters())
        seen.append((order.count("D"), largest))

    trainer.discriminator.register_forward_pre_hook(before_critic)
    return order, seen


def _run_wgan(clip, n_critic, steps):
    trainer = GANTrainer(GANConfig(model="wgan", clip=clip, n_critic=n_critic, steps=steps, **TINY))
    events = trainer.run()
    assert next(events).kind == "start"  # the nets and optimizers exist from here on
    order, seen = _instrument(trainer, clip)
    rest = list(events)
    return trainer, order, seen, rest


def test_wgan_clips_every_critic_parameter_after_every_critic_step():
    clip = 0.01
    trainer, order, seen, events = _run_wgan(clip, n_critic=3, steps=4)
    # Every call of the critic after its first update sees all weights within [-c, c]...
    after_updates = [largest for d_steps, largest in seen if d_steps >= 1]
    assert len(after_updates) > 20
    assert max(after_updates) <= clip + 1e-9
    # ...and so do the final weights (the clipping is also what the checkpoint holds).
    assert max(p.abs().max().item() for p in trainer.discriminator.parameters()) <= clip + 1e-9
    # The initial N(0, 0.02) weights and BN scales of 1 were outside: clipping did happen.
    assert seen[0][1] > clip
    # Weights sit at the bounds, so an unclipped RMSprop step (~10·lr = 5e-4) would show.
    assert sum((p.abs() >= clip - 1e-9).sum().item() for p in trainer.discriminator.parameters()) > 10
    assert events[-1].reason == "done"
    assert all(e.wasserstein == pytest.approx(-e.d_loss) for e in events if e.kind == "step")


def test_the_clipping_check_would_catch_a_missing_clip(monkeypatch):
    # The instrument above is not vacuous: without clip_weights_ it sees weights beyond c.
    monkeypatch.setattr(gan_trainer, "clip_weights_", lambda module, c: None)
    _, _, seen, _ = _run_wgan(0.01, n_critic=2, steps=2)
    assert max(largest for d_steps, largest in seen if d_steps >= 1) > 0.01


def test_wgan_generator_steps_once_per_n_critic_critic_steps():
    _, order, _, _ = _run_wgan(0.01, n_critic=3, steps=4)
    assert "".join(order) == "DDDG" * 4
    _, order, _, _ = _run_wgan(0.01, n_critic=5, steps=2)
    assert "".join(order) == "DDDDDG" * 2


def test_clip_and_frozen_helpers():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    clip_weights_(net, 0.05)
    assert all(p.abs().max() <= 0.05 for p in net.parameters())
    assert net[1].weight.eq(0.05).all()  # BN scales of 1 are clipped too, as in the paper
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())


def test_stop_then_resume_continues_exactly(tmp_path):
    config = dict(model="dcgan", steps=8, **TINY)
    straight = GANTrainer(GANConfig(**config))
    run_all(straight)

    stop = threading.Event()
    first = GANTrainer(GANConfig(out_dir=str(tmp_path), **config))
    events = []
    for e in first.run(stop):
        events.append(e)
        if e.kind == "step" and e.step == 3:
            stop.set()
    assert events[-1].kind == "end" and events[-1].reason == "stopped" and events[-1].step == 3

    second = GANTrainer(resume_from=tmp_path)
    rest = run_all(second)
    assert [e.step for e in rest if e.kind == "step"] == [4, 5, 6, 7, 8]
    assert torch.equal(second.fixed_noise, first.fixed_noise)
    assert torch.equal(second.fixed_noise, straight.fixed_noise)
    # Batches and noise are functions of (seed, step): the resumed run ends where the straight one does.
    for a, b in zip(straight.generator.state_dict().values(), second.generator.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    for a, b in zip(straight.discriminator.state_dict().values(), second.discriminator.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())
    # the history runs on across the stop, and the GIF has frames from both parts
    assert [r["step"] for r in second.history if r["kind"] == "step"] == list(range(1, 9))
    assert len(second.frames) >= 5


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(ValueError, match="Cannot resume"):
        GANTrainer(resume_from=tmp_path)


def test_time_limit_ends_the_run(tmp_path):
    events = run_all(GANTrainer(GANConfig(model="dcgan", steps=10_000, time_limit_s=0.05, **TINY)))
    assert events[-1].reason == "time_limit" and events[-1].step < 10_000
    assert events[-1].gif is not None  # the GIF is written even without an out_dir (a temp file)


def test_nan_guard_ends_with_a_message(monkeypatch):
    monkeypatch.setattr(gan_trainer, "to_model_range", lambda x: torch.full(x.shape, float("nan")))
    events = run_all(GANTrainer(GANConfig(model="dcgan", steps=5, **TINY)))
    assert events[-1].kind == "end" and events[-1].reason == "nan"
    assert "learning rate" in events[-1].message


def test_generator_checkpoint_loads_and_samples(tmp_path):
    run_all(GANTrainer(GANConfig(model="wgan", steps=2, n_critic=2, out_dir=str(tmp_path), **TINY)))
    generator, meta = load_generator(tmp_path / "generator.safetensors")
    for key, value in dict(model="dcgan_generator", gan="wgan", latent_dim=100, image_size=32, channels=1,
                           dataset="digits", steps=2).items():
        assert meta[key] == value
    assert "score" in meta and meta["output_range"] == [-1, 1]
    picture = sample_grid(generator, seed=3, n=9)
    assert picture.dtype == torch.uint8 and tuple(picture.shape) == (3 * 34 + 2, 3 * 34 + 2, 1)
    assert torch.equal(picture, sample_grid(generator, seed=3, n=9))  # a seed names the samples
    with pytest.raises(ValueError, match="not a generator"):
        load_generator(tmp_path / "discriminator.safetensors")


def test_64_pixel_images():
    events = run_all(GANTrainer(GANConfig(model="dcgan", steps=1, **{**TINY, "image_size": 64})))
    assert tuple(events[-2].samples.shape) == (2 * 66 + 2, 2 * 66 + 2, 1)


# --- the score --------------------------------------------------------------------------------


def test_histogram_score_formulas():
    balanced = torch.eye(10).repeat(5, 1) * 10  # 50 images, 5 of each class, confident
    s = histogram_score(balanced)
    assert s.classes_present == 10 and s.entropy == pytest.approx(math.log(10))
    assert s.histogram == [5] * 10 and s.confidence > 0.99
    collapsed = torch.zeros(20, 10)
    collapsed[:, 3] = 10
    s = histogram_score(collapsed)
    assert s.classes_present == 1 and s.entropy == 0.0
    two = torch.zeros(4, 10)
    two[:2, 0] = two[2:, 1] = 1.0
    assert histogram_score(two).entropy == pytest.approx(math.log(2))


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory):
    """A small digits classifier at the native 8×8 (~5 s); the scorer resizes 32×32 samples to it."""
    from cnnzoo.trainer import TrainConfig, Trainer

    out = tmp_path_factory.mktemp("scorer")
    config = TrainConfig(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=5, batch_size=64,
                         lr=0.05, schedule="onecycle", logs_per_epoch=1, out_dir=str(out))
    with torch_threads(1):  # module fixtures run before the test's one_thread
        list(Trainer(config).run())
    return out / "last.safetensors"


def test_score_separates_real_digits_from_noise(digits_classifier):
    classifier, meta = load_classifier(digits_classifier)
    refs = reference_scores(classifier, meta, "digits", image_size=32)
    real, noise = refs["real"], refs["noise"]
    assert real.num_samples == 360 and noise.num_samples == 1000
    assert real.classes_present == 10 and real.entropy > 2.2  # the test split is nearly balanced
    assert noise.entropy < 1.0  # noise lands in one or two classes...
    assert noise.confidence > 0.5  # ...often confidently: why confidence alone says nothing
    # an untrained generator makes near-identical blobs: far below the real digits
    torch.manual_seed(0)
    untrained = create_model("dcgan_generator", image_size=32, width=4)
    s = score_generator(untrained, classifier, meta, n=200)
    assert s.num_samples == 200 and s.entropy < real.entropy - 0.5


def test_live_score_events(digits_classifier):
    config = GANConfig(model="dcgan", steps=4, score_every=2, score_samples=50,
                       **{**TINY, "scorer": str(digits_classifier)})
    trainer = GANTrainer(config)
    scores = [e for e in run_all(trainer) if e.kind == "score"]
    assert [e.step for e in scores] == [2, 4]
    assert all(1 <= e.classes_present <= 10 and 0 <= e.entropy <= math.log(10) + 1e-9 for e in scores)
    assert trainer.score["num_samples"] == 1000  # the final score uses 1,000 samples
    assert trainer.score["scorer"] == str(digits_classifier)
    # the final score carries the real-data ceiling and the noise floor beside it
    assert trainer.score["real"]["classes_present"] == 10 and trainer.score["noise"]["num_samples"] == 1000


def test_wrong_scorer_file_is_a_clear_error(tmp_path):
    run_all(GANTrainer(GANConfig(model="dcgan", steps=1, out_dir=str(tmp_path), **TINY)))
    with pytest.raises(ValueError, match="not a classifier"):
        load_classifier(tmp_path / "generator.safetensors")


# --- the command line -------------------------------------------------------------------------


def test_cli_trains_writes_csv_gif_and_resumes(tmp_path, capsys):
    from train.gan import main

    out = tmp_path / "run"
    args = ["--model", "wgan", "--dataset", "digits", "--width", "4", "--batch-size", "16", "--steps", "3",
            "--n-critic", "2", "--sample-every", "1", "--scorer", "none", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "WGAN on digits" in printed and "gif: " in printed
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert rows[-1]["kind"] == "end" and rows[-1]["reason"] == "done"
    assert (out / "progress.gif").exists() and (out / "generator.safetensors").exists()
    assert main(["--resume", str(out), "--steps", "5"]) == 0
    assert load_generator(out / "generator.safetensors")[1]["steps"] == 5
    assert main(["--model", "dcgan", "--width", "0", "--out", str(tmp_path / "bad")]) == 2


def test_missing_torchvision_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNZOO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CNNZOO_OFFLINE", "1")
    with pytest.raises(ValueError, match="digits"):  # DatasetUnavailable names the offline datasets
        next(GANTrainer(GANConfig(dataset="mnist", **{k: v for k, v in TINY.items() if k != "dataset"})).run())
