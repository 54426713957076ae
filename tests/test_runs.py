"""What both training loops share (cnnzoo.runs): the resume rule, the batches, the run folder
and its record, and events that carry what their consumers need."""
import json
import threading

import pytest
import torch

from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.runs import RECORD_FORMAT, ShuffledBatches, read_record
from cnnzoo.trainer import TrainConfig, Trainer, classifier_report

TINY = dict(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=2, batch_size=32, train_subset=128,
            lr=0.05, schedule="constant", logs_per_epoch=4, evals_per_epoch=1)
TINY_GAN = dict(model="dcgan", dataset="digits", image_size=32, width=4, batch_size=16, num_samples=4, log_every=1,
                sample_every=2, scorer=None, steps=5)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: see conftest.torch_threads


def stop_at(trainer, step):
    stop, events = threading.Event(), []
    for event in trainer.run(stop):
        events.append(event)
        if event.kind == "step" and event.step == step:
            stop.set()
    return events


# --- the resume rule ------------------------------------------------------------------------------


def test_a_resume_may_change_only_its_length_budget_device_and_folder(tmp_path):
    stored = TrainConfig(**TINY)
    longer = stored.resumed({"epochs": 5, "time_limit_s": 60, "out_dir": str(tmp_path), "device": None})
    assert (longer.epochs, longer.time_limit_s, longer.out_dir, longer.lr) == (5, 60, str(tmp_path), 0.05)
    assert longer.device == "auto"  # None means "keep"
    with pytest.raises(ValueError, match=r"can only change epochs, out_dir, time_limit_s, device, sync_batchnorm \(not lr, model\)"):
        stored.resumed({"lr": 1.0, "model": "resnet20"})
    with pytest.raises(ValueError, match="override= is for resumed runs"):
        Trainer(TrainConfig(**TINY), override={"epochs": 3})
    # A GAN's length is steps or epochs: giving one on resume replaces the other.
    gan = GANConfig(epochs=2.0)
    assert (gan.resumed({"steps": 40}).steps, gan.resumed({"steps": 40}).epochs) == (40, None)
    assert (GANConfig(steps=40).resumed({"epochs": 1.5}).steps, GANConfig(steps=40).resumed({"epochs": 1.5}).epochs) == (None, 1.5)
    with pytest.raises(ValueError, match="not width"):
        gan.resumed({"width": 64})


def test_a_resumed_run_keeps_its_folder_unless_told_and_refuses_other_changes(tmp_path):
    stop_at(Trainer(TrainConfig(**TINY, out_dir=str(tmp_path / "a"))), 3)
    resumed = Trainer(resume_from=tmp_path / "a")
    assert resumed.config.out_dir == str(tmp_path / "a") and resumed.step == 3
    moved = Trainer(resume_from=tmp_path / "a" / "last.safetensors", override={"out_dir": str(tmp_path / "b")})
    list(moved.run())
    assert (tmp_path / "b" / "last.safetensors").exists() and moved.step == moved.total_steps
    with pytest.raises(ValueError, match="keeps its settings"):
        Trainer(resume_from=tmp_path / "a", override={"batch_size": 64})


# --- batches ----------------------------------------------------------------------------------------


def test_batches_are_a_pure_function_of_seed_and_number_and_each_epoch_visits_every_image_once():
    batches = ShuffledBatches(n=100, batch_size=32, seed=7, device=torch.device("cpu"))
    assert batches.per_epoch == 3  # the ragged last 4 images of an epoch are dropped
    forward = [batches.indices(b) for b in range(9)]
    backward = [ShuffledBatches(100, 32, 7, torch.device("cpu")).indices(b) for b in reversed(range(9))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(forward, backward))  # no hidden state: resume anywhere
    for epoch in range(3):
        seen = torch.cat(forward[3 * epoch:3 * epoch + 3])
        assert len(seen) == 96 and len(set(seen.tolist())) == 96
    assert not torch.equal(forward[0], forward[3])  # a new order every epoch
    assert not torch.equal(forward[0], ShuffledBatches(100, 32, 8, torch.device("cpu")).indices(0))
    assert ShuffledBatches(10, 64, 0, torch.device("cpu")).batch_size == 10


# --- events ------------------------------------------------------------------------------------------


def test_events_carry_the_run_length_the_history_and_at_the_end_the_files(tmp_path):
    trainer = Trainer(TrainConfig(**TINY, out_dir=str(tmp_path)))
    events = list(trainer.run())
    assert {e.total_steps for e in events} == {8}  # 2 epochs of 4 steps
    assert {e.run_dir for e in events} == {str(tmp_path)}
    assert all(e.history is trainer.history for e in events)
    assert events[-1].history[-1]["kind"] == "end"
    files = events[-1].files
    assert set(files) == {"checkpoint", "metrics", "record"}
    assert all(path.startswith(str(tmp_path)) for path in files.values())
    assert not {"history", "files", "run_dir"} & (set(trainer.history[0]) | set(trainer.history[-1]))

    resumed = Trainer(resume_from=tmp_path, override={"epochs": 3})
    start = next(resumed.run())
    assert start.total_steps == 12 and start.history == trainer.history  # the curves so far, and where they ended


# --- the run record --------------------------------------------------------------------------------


def test_the_run_record_holds_the_config_the_curves_and_the_files(tmp_path):
    events = stop_at(Trainer(TrainConfig(**TINY, cam_probe=2, out_dir=str(tmp_path))), 5)
    record = read_record(tmp_path)
    assert (record["format"], record["kind"], record["status"], record["total_steps"]) == (RECORD_FORMAT, "classifier", "stopped", 8)
    assert record["config"]["model"] == "simple_cnn" and record["config"]["cam_probe"] == 2
    assert record["events"] == json.loads(json.dumps(events[-1].history))
    assert [i["epoch"] for i in record["images"]] == [0.0, 1.0, 1.25]  # untrained, epoch 1, the stop
    for name in record["files"].values():
        assert not name.startswith("/") and (tmp_path / name).exists()  # relative: the folder can move
    for image in record["images"]:
        assert (tmp_path / image["file"]).is_file()

    list(Trainer(resume_from=tmp_path).run())
    record = read_record(tmp_path / "record.json")
    assert record["status"] == "done"
    assert [e["step"] for e in record["events"] if e["kind"] == "step"] == list(range(1, 9))
    assert [i["epoch"] for i in record["images"]] == [0.0, 1.0, 1.25, 2.0]


def test_a_diverged_run_records_its_curves_and_json_has_no_nan(tmp_path, monkeypatch):
    trainer = Trainer(TrainConfig(**{**TINY, "epochs": 3}, out_dir=str(tmp_path)))
    build = trainer.build_model

    def diverging():  # the loss becomes NaN in epoch 2
        model = build()
        head, calls = model.forward_head, []

        def forward_head(features):
            calls.append(1)
            return head(features) * (float("nan") if len(calls) > 6 else 1.0)

        model.forward_head = forward_head
        return model

    monkeypatch.setattr(trainer, "build_model", diverging)
    end = list(trainer.run())[-1]
    assert end.reason == "nan"
    record = json.loads((tmp_path / "record.json").read_text(), parse_constant=pytest.fail)  # no NaN, no Infinity
    assert record["status"] == "nan" and record["events"][-1]["reason"] == "nan"
    assert read_record(tmp_path)["files"]["metrics"] == "metrics.csv"


def test_a_gan_record_names_a_sample_grid_per_sample_event(tmp_path):
    trainer = GANTrainer(GANConfig(**TINY_GAN, out_dir=str(tmp_path)))
    events = list(trainer.run())
    record = read_record(tmp_path)
    assert (record["kind"], record["status"], record["total_steps"]) == ("gan", "done", 5)
    assert [i["step"] for i in record["images"]] == [e.step for e in events if e.kind == "sample"] == [0, 2, 4, 5]
    assert all((tmp_path / i["file"]).is_file() and i["kind"] == "samples" for i in record["images"])
    assert set(events[-1].files) >= {"generator", "discriminator", "metrics", "record", "samples", "gif"}
    assert {e.total_steps for e in events} == {5}


def test_folderless_runs_write_nothing_but_the_gif(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    list(Trainer(TrainConfig(**TINY)).run())
    end = list(GANTrainer(GANConfig(**TINY_GAN)).run())[-1]
    assert end.files == {} and end.gif is not None
    assert list(tmp_path.iterdir()) == []


def test_read_record_says_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="no readable run record"):
        read_record(tmp_path)
    (tmp_path / "record.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a cnnzoo run record"):
        read_record(tmp_path)


# --- the test report -------------------------------------------------------------------------------


def test_classifier_report_counts_what_the_model_predicts_on_its_test_set(tmp_path):
    from cnnzoo.checkpoints import load_checkpoint
    from cnnzoo.compute import predict_logits
    from cnnzoo.data import load_dataset

    end = list(Trainer(TrainConfig(**TINY, out_dir=str(tmp_path))).run())[-1]
    report = classifier_report(end.checkpoint)
    test = load_dataset("digits", "test")
    model, meta = load_checkpoint(end.checkpoint)
    expected = predict_logits(model, test.images, meta["mean"], meta["std"]).argmax(1)
    assert torch.equal(report.predictions, expected)
    assert report.confusion.sum() == len(test) and report.confusion.trace() == (expected == test.labels).sum()
    assert torch.equal(report.wrong, (expected != test.labels).nonzero().flatten())
    assert report.class_names == [str(d) for d in range(10)] and (report.confidence <= 1).all()
    with pytest.raises(ValueError, match="not a classifier"):
        gan_dir = tmp_path / "gan"
        list(GANTrainer(GANConfig(**TINY_GAN, out_dir=str(gan_dir))).run())
        classifier_report(gan_dir / "generator.safetensors")
