"""The classifier training engine: schedules, events, stop, resume, NaN handling."""
import csv
import math
import threading

import pytest
import torch

from cnnzoo.checkpoints import load_checkpoint
from cnnzoo.trainer import TrainConfig, Trainer, TrainEvent, confusion_matrix, lr_factor

# A tiny, fast run: 256 digits images, a narrow simple_cnn, 2 epochs of 8 steps; fp32, so two runs
# compare exactly whatever "auto" would measure on a busy machine.
TINY = dict(model="simple_cnn", knobs={"width": 16}, dataset="digits", epochs=2, batch_size=32,
            train_subset=256, lr=0.05, schedule="constant", logs_per_epoch=8, evals_per_epoch=2, precision="fp32")


def run_all(trainer, stop=None):
    return list(trainer.run(stop))


def test_lr_schedules_follow_their_formulas():
    total = 100
    assert lr_factor("constant", 50, total) == 1.0
    # multistep: the WRN tutorial's 60/120/160 of 200 epochs, gamma 0.2
    assert lr_factor("multistep", 29, total) == 1.0
    assert lr_factor("multistep", 30, total) == pytest.approx(0.2)
    assert lr_factor("multistep", 60, total) == pytest.approx(0.04)
    assert lr_factor("multistep", 99, total) == pytest.approx(0.008)
    assert lr_factor("multistep", 50, total, milestones=(0.5,), gamma=0.1) == pytest.approx(0.1)
    assert lr_factor("cosine", 0, total) == pytest.approx(1.0)
    assert lr_factor("cosine", 50, total) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, total) == pytest.approx(0.0, abs=1e-12)
    # linear warm-up, then the schedule from 1
    assert lr_factor("cosine", 0, total, warmup_steps=10) == pytest.approx(0.1)
    assert lr_factor("cosine", 10, total, warmup_steps=10) == pytest.approx(1.0)
    # one-cycle: rises from 1/25 to 1 over 30%, then anneals to 0
    assert lr_factor("onecycle", 0, total) == pytest.approx(1 / 25)
    assert lr_factor("onecycle", 30, total) == pytest.approx(1.0)
    assert lr_factor("onecycle", 100, total) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("bad, text", [
    (dict(model="resnet9000"), "Unknown model"),
    (dict(epochs=0), "epochs"),
    (dict(lr=-1), "learning rate"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(batch_size=0), "batch size"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(schedule="exponential"), "schedule"),
    (dict(momentum=1.5), "momentum"),
    (dict(nesterov=True, optimizer="adam"), "Nesterov"),
    (dict(val_fraction=0.9), "validation"),
    (dict(knobs={"depth": 3}), "no knob"),
])
def test_impossible_settings_say_what_to_do(bad, text):
    with pytest.raises(ValueError, match=text):
        TrainConfig(**bad).validate()


def test_events_curves_and_learning(tmp_path):
    trainer = Trainer(TrainConfig(**TINY, out_dir=str(tmp_path)))
    events = run_all(trainer)
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[-1].reason == "done"
    steps = [e for e in events if e.kind == "step"]
    evals = [e for e in events if e.kind == "eval"]
    assert len(steps) == 16  # 8 steps per epoch (256 / 32), logged every step
    assert len(evals) == 4  # twice per epoch
    assert [e.step for e in steps] == list(range(1, 17))
    assert steps[-1].epoch == 2.0
    for e in steps:
        assert math.isfinite(e.train_loss) and 0 <= e.train_acc <= 1
        assert e.images_per_s > 0 and e.eta_s >= 0 and e.lr == pytest.approx(0.05)
    assert steps[-1].train_loss < steps[0].train_loss  # it learns
    assert 0 <= evals[-1].test_acc <= 1
    assert evals[-1].test_acc > 0.3  # well above chance (0.1) after 16 steps
    # the checkpoint rebuilds the model from its metadata alone
    model, meta = load_checkpoint(tmp_path / "last.safetensors")
    assert meta["model"] == "simple_cnn" and meta["knobs"]["width"] == 16
    assert meta["class_names"] == [str(i) for i in range(10)]
    assert meta["metrics"]["test_acc"] == pytest.approx(evals[-1].test_acc)
    assert trainer.history[-1]["kind"] == "end"


def test_stop_leaves_a_checkpoint_and_resume_is_exact(tmp_path):
    # Uninterrupted reference run.
    ref = Trainer(TrainConfig(**TINY, out_dir=str(tmp_path / "ref")))
    run_all(ref)
    # Same run, stopped after 3 steps (mid-epoch), then resumed to the end.
    stop = threading.Event()
    first = Trainer(TrainConfig(**TINY, out_dir=str(tmp_path / "cut")))
    events = []
    for e in first.run(stop):
        events.append(e)
        if e.kind == "step" and e.step == 3:
            stop.set()
    assert events[-1].kind == "end" and events[-1].reason == "stopped"
    assert events[-1].step == 3
    stopped_model, meta = load_checkpoint(tmp_path / "cut" / "last.safetensors")

    resumed = Trainer(resume_from=tmp_path / "cut")
    assert [h["step"] for h in resumed.history if h["kind"] == "step"] == [1, 2, 3]  # curves come along
    rest = run_all(resumed)
    assert [e.step for e in rest if e.kind == "step"] == list(range(4, 17))
    assert rest[-1].reason == "done"
    for (name, a), b in zip(ref.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs after stop + resume"


def test_resume_can_train_longer(tmp_path):
    run_all(Trainer(TrainConfig(**TINY, out_dir=str(tmp_path))))
    more = Trainer(resume_from=tmp_path, override={"epochs": 3})
    steps = [e.step for e in more.run() if e.kind == "step"]
    assert steps == list(range(17, 25))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(TrainConfig(**{**TINY, "epochs": 3}, out_dir=str(tmp_path)))
    build = trainer.build_model

    def poisoned():
        model = build()
        original = model.forward_head
        calls = {"n": 0}

        def forward_head(features):
            calls["n"] += 1 if model.training else 0
            out = original(features)
            return out * float("nan") if calls["n"] > 10 else out  # diverges in epoch 2
        model.forward_head = forward_head
        return model

    monkeypatch.setattr(trainer, "build_model", poisoned)
    events = run_all(trainer)
    end = events[-1]
    assert end.kind == "end" and end.reason == "nan"
    assert "learning rate" in end.message and "last good checkpoint" in end.message
    model, meta = load_checkpoint(tmp_path / "last.safetensors")
    assert meta["epoch"] == 1.0  # saved after epoch 1, not overwritten with NaN weights
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_confusion_matrix_counts():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(preds, labels, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_metrics_csv_has_one_row_per_event(tmp_path):
    trainer = Trainer(TrainConfig(**TINY, out_dir=str(tmp_path)))
    end = run_all(trainer)[-1]
    rows = list(csv.DictReader(open(end.files["metrics"])))
    assert len(rows) == len(trainer.history) and rows[-1]["kind"] == "end"
    assert {"kind", "step", "train_loss", "test_acc", "lr"} <= set(rows[0])
    assert list(rows[0]) == TrainEvent.recorded_fields() and "history" not in rows[0]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_validation_split_picks_the_best_checkpoint(tmp_path):
    trainer = Trainer(TrainConfig(**TINY, val_fraction=0.2, out_dir=str(tmp_path)))
    evals = [e for e in run_all(trainer) if e.kind == "eval"]
    assert all(e.val_acc is not None for e in evals)
    _, meta = load_checkpoint(tmp_path / "best.safetensors")
    assert meta["metrics"]["val_acc"] == pytest.approx(max(e.val_acc for e in evals if e.epoch == int(e.epoch)))


def test_the_training_step_runs_in_the_chosen_precision_and_a_resume_keeps_it(tmp_path, monkeypatch):
    """bf16 asked for runs the step under bf16 autocast (evaluation stays fp32); the format is
    stored with the run, so a resume continues in it even where "auto" would now choose otherwise."""
    seen = []
    original = torch.autocast

    def spy(device_type, dtype=None, enabled=True, **kw):
        seen.append((dtype, enabled))
        return original(device_type, dtype=dtype, enabled=enabled, **kw)

    monkeypatch.setattr(torch, "autocast", spy)
    stop = threading.Event()
    trainer = Trainer(TrainConfig(**{**TINY, "precision": "bf16"}, out_dir=str(tmp_path)))
    events = []
    for e in trainer.run(stop):
        events.append(e)
        if e.kind == "step" and e.step == 2:
            stop.set()
    assert "bf16 (as asked)" in events[0].message
    assert (torch.bfloat16, True) in seen
    _, meta = load_checkpoint(tmp_path / "last.safetensors")
    assert meta["precision"] == "bf16" and meta["train_config"]["precision"] == "bf16"
    resumed = Trainer(resume_from=tmp_path)
    first = next(resumed.run())
    assert resumed.precision == "bf16" and "as the run started" in first.message
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(**{**TINY, "precision": "fp16"}).validate()
