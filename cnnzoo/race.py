"""The architecture race: several classifiers train on the same data with the same budget, one
after another, and are compared on accuracy against their cost.

    race = plan_race(RaceConfig(models=("simple_cnn", "resnet20"), budget_kind="epochs", budget=3))
    for race in run_race(race, stop=threading.Event()):    # the same Race, updated, after every event
        print(race.current, [(e.model, e.status, e.points[-1:]) for e in race.entries])
    race_table(race)    # [{"model", "params", "macs", "images_per_s", "epochs", "seconds", "test_acc", "status"}]

What "the same budget" means, and why:

- **epochs**: every model sees the same images the same number of times (the papers' way of
  comparing architectures); a model that computes more takes longer, which the seconds show.
- **seconds**: every model gets the same seconds of *training steps* (the trainer's clock for
  time_limit_s: evaluations are not counted, so a model with a slow test pass is not punished).
  So that every learning-rate schedule completes within the budget rather than being cut off
  at its highest rate, each model's number of epochs is fitted to its own speed first: a few
  training steps are timed (PROBE_STEPS, outside the budget) and the epochs set to what the
  budget holds; the time limit is the hard stop if the estimate was optimistic.

Everything else is shared: the data, its size, the recipe (RACE_RECIPE: SGD, one-cycle, batch
64, fp32 for all so that no model gets a faster number format than another) and the seed.
Parameters and MACs (per image, forward, at the race's input size) come from cnnzoo.trace on the
meta device before anything trains, which also refuses, with the layer that failed, a model
whose feature map the chosen image size would shrink to nothing. "seconds" everywhere are
training seconds; images/s is the training throughput (forward, backward and update).

Some of the zoo's families are too slow on a CPU at their registered sizes (DenseNet-BC-100,
WRN-28-10); RACE_VARIANTS adds small members of them under the papers' naming.
"""
from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import torch

from cnnzoo.data import dataset_info
from cnnzoo.registry import create_model, get_entry, list_models, model_knobs
from cnnzoo.trace import trace
from cnnzoo.trainer import TrainConfig, Trainer, evaluate

# Small members of families whose registered builders are too slow for a CPU race, by the papers'
# names: DenseNet-BC (bottleneck + compression 0.5) with L = 40, k = 12; WRN-16-2.
RACE_VARIANTS: dict[str, tuple[str, dict]] = {
    "densenet_bc_40_k12": ("densenet", dict(depth=40, growth_rate=12)),
    "wide_resnet16_2": ("wide_resnet", dict(depth=16, widen_factor=2)),
}
# One of each family: a plain CNN with a GAP head, a ResNet, a Wide ResNet and a DenseNet. On the
# digits at 16×16 they span 10 to 98 M MACs per image; 6 epochs each took about a minute in all
# on 2 CPU cores (benchmarks/race.py).
DEFAULT_MODELS = ("simple_cnn", "resnet20", "wide_resnet16_4", "densenet_bc_40_k12")
BUDGET_KINDS = ("epochs", "seconds")
MIN_MODELS, MAX_MODELS = 2, 6
MAX_EPOCHS = 100
# The shared recipe: the classroom degradation preset's optimiser (cnnzoo.recipes), which trains
# plain and residual nets of 20-56 layers on these data in a few epochs.
RACE_RECIPE = dict(batch_size=64, optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="onecycle",
                   augment=True, precision="fp32", evals_per_epoch=2, eval_subset=500, logs_per_epoch=10)
PROBE_STEPS = 3  # timed training steps (after one warm-up) that fit a model's epochs to a seconds budget


@dataclass
class RaceConfig:
    models: tuple[str, ...] = DEFAULT_MODELS  # registry classifiers or RACE_VARIANTS names, in racing order
    dataset: str = "digits"
    image_size: int | None = 16  # None: the dataset's own size
    budget_kind: str = "epochs"  # one of BUDGET_KINDS
    budget: float = 6  # epochs, or training seconds, per model
    seed: int = 0
    max_seconds_per_model: float | None = None  # epochs budget: a server's cap on each model's training time
    train_subset: int | None = None  # only the first N training images (tests, benchmarks)
    recipe: dict = field(default_factory=lambda: dict(RACE_RECIPE))

    def train_config(self, model: str, epochs: float, time_limit_s: float | None) -> TrainConfig:
        name, knobs = resolve_model(model)
        return TrainConfig(model=name, knobs=knobs, dataset=self.dataset, image_size=self.image_size, epochs=epochs,
                           seed=self.seed, train_subset=self.train_subset, time_limit_s=time_limit_s,
                           out_dir=None, **self.recipe)


@dataclass
class RaceEntry:
    """One model of the race: its cost, its curve and, once trained, its final numbers."""

    model: str
    params: int
    macs: int  # per image, forward pass, at the race's input size
    points: list = field(default_factory=list)  # (epoch, training seconds, test accuracy) per evaluation
    status: str = "waiting"  # waiting | running | done | stopped | time_limit | nan
    planned_epochs: float | None = None
    epochs: float = 0.0  # done so far
    seconds: float = 0.0  # training seconds so far
    images_per_s: float | None = None  # training throughput, mean over the run so far
    test_acc: float | None = None  # final: the whole test set, in eval mode, once the model has trained


@dataclass
class Race:
    config: RaceConfig
    entries: list[RaceEntry]
    input_size: tuple[int, int, int]
    current: int | None = None  # index of the entry training now
    finished: bool = False
    stopped: bool = False
    wall_s: float = 0.0  # the whole race so far, probes and evaluations included


def race_models() -> list[str]:
    """What a race can choose from: the registry's classifiers and RACE_VARIANTS."""
    return sorted([*list_models(kind="classifier"), *RACE_VARIANTS])


def resolve_model(model: str) -> tuple[str, dict]:
    """(registry name, knobs) of a race model: a variant's builder and knobs, else the name itself."""
    if model in RACE_VARIANTS:
        return RACE_VARIANTS[model]
    if model not in list_models(kind="classifier"):
        get_entry(model)  # an unknown name: the registry's message with its near matches
        raise ValueError(f"{model} is not a classifier; the race takes one of: {', '.join(race_models())}.")
    return model, {}


def check_config(config: RaceConfig) -> None:
    """ValueError for a race that cannot run, saying what is allowed."""
    models = list(config.models)
    if not MIN_MODELS <= len(models) <= MAX_MODELS:
        raise ValueError(f"models: choose {MIN_MODELS} to {MAX_MODELS} models to race, got {len(models)}.")
    if len(set(models)) != len(models):
        twice = sorted({m for m in models if models.count(m) > 1})
        raise ValueError(f"models: each model races once; {', '.join(twice)} is chosen more than once.")
    for model in models:
        resolve_model(model)
    dataset_info(config.dataset)  # an unknown dataset: ValueError naming the valid ones
    if config.budget_kind not in BUDGET_KINDS:
        raise ValueError(f"budget kind must be one of {', '.join(BUDGET_KINDS)}, got {config.budget_kind!r}.")
    if config.budget_kind == "epochs" and not 0 < config.budget <= MAX_EPOCHS:
        raise ValueError(f"budget: epochs per model must be more than 0 and at most {MAX_EPOCHS}, got {config.budget:g}.")
    if config.budget_kind == "seconds" and not config.budget >= 1:
        raise ValueError(f"budget: seconds per model must be at least 1, got {config.budget:g}.")
    if config.max_seconds_per_model is not None and config.max_seconds_per_model <= 0:
        raise ValueError("the cap on each model's seconds must be more than 0.")


def model_cost(model: str, input_size: tuple[int, int, int], num_classes: int) -> tuple[int, int]:
    """(parameters, MACs per image) of a race model at `input_size`, traced on the meta device (no
    memory, no initialisation); ValueError naming the layer when the input is too small for it."""
    name, knobs = resolve_model(model)
    if "in_channels" in model_knobs(name):
        knobs = {**knobs, "in_channels": input_size[0]}
    with torch.device("meta"):
        network = create_model(name, num_classes=num_classes, **knobs)
    try:
        result = trace(network, input_size, device="meta")
    except ValueError as error:
        raise ValueError(f"{model} cannot race at {'×'.join(map(str, input_size[1:]))} pixels: {error}") from error
    return result.total_params, result.total_macs


def plan_race(config: RaceConfig) -> Race:
    """The race's entries with their parameters and MACs, before anything trains; ValueError for
    bad settings or a model that does not fit the images."""
    check_config(config)
    info = dataset_info(config.dataset)
    side = config.image_size or info["size"]
    input_size = (info["channels"], side, side)
    entries = [RaceEntry(model, *model_cost(model, input_size, info["num_classes"])) for model in config.models]
    return Race(config=config, entries=entries, input_size=input_size)


def run_race(race: Race, stop: threading.Event | None = None) -> Iterator[Race]:
    """Train the race's models one after another, yielding the race after every training event
    (and once before the first); a Stop ends the model training now and skips the rest."""
    stop = stop or threading.Event()
    started = time.perf_counter()
    yield race
    for k, entry in enumerate(race.entries):
        race.current = k
        for _ in train_entry(race, entry, stop):
            race.wall_s = time.perf_counter() - started
            yield race
        if stop.is_set():
            race.stopped = True
            break
    race.current, race.finished = None, True
    race.wall_s = time.perf_counter() - started
    yield race


def train_entry(race: Race, entry: RaceEntry, stop: threading.Event) -> Iterator[None]:
    """Train one entry within the race's budget, following its trainer's events into the entry."""
    config = race.config
    if config.budget_kind == "epochs":
        epochs, limit = config.budget, config.max_seconds_per_model
    else:
        epochs, limit = fitted_epochs(config.train_config(entry.model, 1, None), config.budget), config.budget
    entry.status, entry.planned_epochs = "running", epochs
    trainer = Trainer(config.train_config(entry.model, epochs, limit))
    for event in trainer.run(stop):
        entry.epochs, entry.seconds = event.epoch, trainer.train_time
        if event.kind == "step":
            entry.images_per_s = event.images_per_s
        elif event.kind == "eval":
            entry.points.append((event.epoch, trainer.train_time, event.test_acc))
        elif event.kind == "end":
            # a seconds budget is meant to run out: reaching it is the end of a finished run
            entry.status = "done" if event.reason == "time_limit" and config.budget_kind == "seconds" else event.reason
        yield
    entry.test_acc = evaluate(trainer.model, trainer.test_set)[1]
    if not entry.points or entry.points[-1][:2] != (entry.epochs, entry.seconds):
        entry.points.append((entry.epochs, entry.seconds, entry.test_acc))
    yield


def fitted_epochs(config: TrainConfig, seconds: float) -> float:
    """The epochs of `config`'s model that `seconds` of training steps hold on this machine, from
    PROBE_STEPS timed steps (after a warm-up) on a throw-away copy of the run; at least one step."""
    probe = Trainer(config)
    probe.setup()
    probe.reset_meter()
    times = []
    for step in range(PROBE_STEPS + 1):
        began = time.perf_counter()
        probe.train_step(*probe.batch(step))
        times.append(time.perf_counter() - began)
    steps = max(1, int(seconds / statistics.median(times[1:])))
    return steps / probe.batches.per_epoch


def race_table(race: Race) -> list[dict]:
    """One row per model that has started: its cost and its final (or latest) numbers."""
    return [{"model": e.model, "params": e.params, "macs": e.macs, "images_per_s": e.images_per_s,
             "epochs": e.epochs, "seconds": e.seconds, "test_acc": e.test_acc, "status": e.status}
            for e in race.entries if e.status != "waiting"]

