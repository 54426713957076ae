"""The architecture race (cnnzoo.race): one result per model with the cost cnnzoo.trace gives, the
two kinds of budget, Stop, and every bad setting refused with what is allowed.

Tiny races: 128 digits images at 8×8, one thread, a second or two per race.
"""
import threading

import pytest
import torch

from cnnzoo.race import RACE_VARIANTS, RaceConfig, plan_race, race_models, race_table, run_race
from cnnzoo.registry import create_model
from cnnzoo.trace import trace

TINY = dict(models=("simple_cnn", "resnet20"), dataset="digits", image_size=8, train_subset=128)


def race_to_the_end(config: RaceConfig, stop=None):
    race = plan_race(config)
    snapshots = [(race.current, [e.status for e in race.entries]) for race in run_race(race, stop)]
    return race, snapshots


def real_cost(name: str, knobs: dict, input_size) -> tuple[int, int]:
    """Parameters and MACs of a real (not meta) model, traced: what the race must report."""
    torch.manual_seed(0)
    result = trace(create_model(name, num_classes=10, in_channels=input_size[0], **knobs), input_size)
    return result.total_params, result.total_macs


def test_an_epochs_race_gives_one_result_per_model_with_the_traced_cost(one_thread):
    race, snapshots = race_to_the_end(RaceConfig(**TINY, budget_kind="epochs", budget=2))
    assert race.finished and not race.stopped and race.input_size == (1, 8, 8)
    rows = race_table(race)
    assert [r["model"] for r in rows] == ["simple_cnn", "resnet20"]
    for row, entry in zip(rows, race.entries):
        assert (row["params"], row["macs"]) == real_cost(row["model"], {}, (1, 8, 8))
        assert row["status"] == "done" and row["epochs"] == 2
        assert row["seconds"] > 0 and row["images_per_s"] > 0 and 0 <= row["test_acc"] <= 1
        epochs = [p[0] for p in entry.points]
        seconds = [p[1] for p in entry.points]
        assert epochs == sorted(epochs) and seconds == sorted(seconds) and epochs[-1] == 2
        assert all(0 <= p[2] <= 1 for p in entry.points)
        assert entry.points[-1][2] == row["test_acc"]  # the last point is the final, whole-test-set number
    # one after another: the second model waits while the first trains
    assert (0, ["running", "waiting"]) in snapshots and snapshots[-1] == (None, ["done", "done"])


def test_a_variant_races_with_its_knobs_and_costs_what_its_builder_does(one_thread):
    race = plan_race(RaceConfig(**{**TINY, "models": ("densenet_bc_40_k12", "wide_resnet16_2")}))
    for entry in race.entries:
        name, knobs = RACE_VARIANTS[entry.model]
        assert (entry.params, entry.macs) == real_cost(name, knobs, (1, 8, 8))
    assert {"densenet_bc_40_k12", "wide_resnet16_2", "resnet20", "simple_cnn"} <= set(race_models())
    assert "dcgan_generator" not in race_models()


def test_a_seconds_race_gives_every_model_the_same_training_time(one_thread):
    race, _ = race_to_the_end(RaceConfig(**TINY, budget_kind="seconds", budget=1))
    for entry in race.entries:
        assert entry.status == "done" and entry.planned_epochs > 0
        # within the budget, or over it by at most the last step the time limit lets finish
        assert 0.3 < entry.seconds < 1.5, (entry.model, entry.seconds)
        assert 0 <= entry.test_acc <= 1


def test_stop_ends_the_model_training_now_and_skips_the_rest(one_thread):
    stop = threading.Event()
    race = plan_race(RaceConfig(**TINY, budget_kind="epochs", budget=20))
    for state in run_race(race, stop):
        if state.entries[0].points:  # the first evaluation of the first model
            stop.set()
    assert race.stopped and race.finished
    assert [e.status for e in race.entries] == ["stopped", "waiting"]
    assert race.entries[0].epochs < 20 and 0 <= race.entries[0].test_acc <= 1
    assert [r["model"] for r in race_table(race)] == ["simple_cnn"]


@pytest.mark.parametrize("changes, message", [
    (dict(models=("simple_cnn",)), "choose 2 to 6 models"),
    (dict(models=("simple_cnn",) * 2), "simple_cnn is chosen more than once"),
    (dict(models=("simple_cnn", "resnet20", "plain20", "resnet32", "resnet44", "resnet56", "plain32")),
     "choose 2 to 6 models to race, got 7"),
    (dict(models=("simple_cnn", "resnet21")), "Unknown model 'resnet21'. Did you mean"),
    (dict(models=("simple_cnn", "dcgan_generator")), "dcgan_generator is not a classifier"),
    (dict(dataset="digitz"), "digitz"),
    (dict(budget_kind="steps"), "budget kind must be one of epochs, seconds"),
    (dict(budget=0), "epochs per model must be more than 0"),
    (dict(budget=1000), "at most 100"),
    (dict(budget_kind="seconds", budget=0.5), "seconds per model must be at least 1"),
    (dict(models=("simple_cnn", "vgg11")), "vgg11 cannot race at 8×8 pixels"),
])  # fmt: skip
def test_bad_settings_are_refused_before_anything_trains(changes, message):
    with pytest.raises(ValueError, match=message):
        plan_race(RaceConfig(**{**TINY, "budget": 2, **changes}))
