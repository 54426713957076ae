"""cnnzoo.replay: a run record played back is the run's own events, on its clock, stoppable."""
import json
import threading
import time

import pytest

from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.replay import Replay, pack_record
from cnnzoo.trainer import TrainConfig, Trainer

TINY = dict(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=2, batch_size=32, train_subset=128,
            lr=0.05, cam_probe=1, precision="fp32")


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    events = list(Trainer(TrainConfig(**TINY, out_dir=str(folder))).run())
    return folder, events


def test_a_replay_yields_the_trainers_events_and_ends_on_its_files(classifier_run, tmp_path):
    folder, live = classifier_run
    packed = pack_record(folder, tmp_path / "packed", weights=folder / "last.safetensors", title="tiny")
    replayed = list(Replay(packed, speed=1e6).run())
    strip = lambda events: [(e.kind, e.step, e.train_loss, e.test_acc) for e in events if e.kind != "start"]  # noqa: E731
    assert strip(replayed) == strip(live)  # the same events, numbers and order
    assert replayed[0].kind == "start" and "replay" in replayed[0].message
    end = replayed[-1]
    assert end.reason == "done" and end.checkpoint == str((folder / "last.safetensors").resolve())
    assert set(end.files) >= {"checkpoint", "cam_strip", "cam_timeline", "metrics"}
    assert end.history == [e.to_dict() for e in live if e.kind != "start"]
    record = json.loads((packed / "record.json").read_text())
    assert record["title"] == "tiny" and record["config"]["out_dir"] is None
    assert not (packed / "last.safetensors").exists()  # the weights stay where they are shipped


def test_the_replay_keeps_the_recorded_pace_divided_by_the_speed(classifier_run):
    folder, _ = classifier_run
    replay = Replay(folder, speed=1.0)
    recorded = replay.record["events"][-1]["elapsed_s"]
    replay.speed = recorded / 0.6  # the whole run in about 0.6 s
    started = time.monotonic()
    list(replay.run())
    assert 0.5 < time.monotonic() - started < 3.0


def test_stop_ends_a_replay_at_once_and_from_step_skips_ahead(classifier_run):
    folder, _ = classifier_run
    stop = threading.Event()
    replay = Replay(folder, speed=1e-3)  # a thousand times slower than recorded: it would take hours
    events = replay.run(stop)
    assert next(events).kind == "start"
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    rest = list(events)
    assert time.monotonic() - started < 2 and rest[-1].reason == "stopped" and rest[-1].checkpoint is None
    late = Replay(folder, speed=1e-3, from_step=10**6)  # beyond the end: all at once
    assert list(late.run())[-1].reason == "done"
    assert len(late.history_at(4)) == len([r for r in late.record["events"] if r["step"] <= 4])
    assert [i["epoch"] for i in late.pictures_at(4, "cam")] == [0, 1]  # 4 steps an epoch


def test_a_gan_replay_shows_its_sample_grids_at_their_steps(tmp_path):
    folder = tmp_path / "gan"
    config = GANConfig(model="dcgan", dataset="digits", width=8, batch_size=16, steps=6, sample_every=2, scorer=None,
                       out_dir=str(folder))
    live = list(GANTrainer(config).run())
    replayed = list(Replay(folder, speed=1e6).run())
    samples = lambda events: [(e.step, tuple(e.samples.shape)) for e in events if e.kind == "sample"]  # noqa: E731
    assert samples(replayed) == samples(live)
    assert [(e.kind, e.step, e.d_loss) for e in replayed if e.kind in ("step", "end")] == \
           [(e.kind, e.step, e.d_loss) for e in live if e.kind in ("step", "end")]
    assert replayed[-1].gif and replayed[-1].checkpoint.endswith("generator.safetensors")


def test_bad_input_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="no readable run record"):
        Replay(tmp_path)
    with pytest.raises(ValueError, match="speed must be > 0"):
        Replay(tmp_path, speed=0)
