"""The recipes of cnnzoo.recipes in the forms: choose one and the Train tab's (or the GAN tab's)
form is filled with its settings, its source named.

The Train form has one control per parameter of its /train endpoint, and those stay as they are;
what a recipe sets beyond them travels in the choices of existing controls (the optimizer
"sgd-nesterov": SGD with Nesterov momentum; the schedule "multistep-he": ×0.1 at 50% and 75%)
or, for the input normalisation, in a gr.State that choosing a recipe sets and choosing a
dataset by hand resets (a State is not part of the API).
"""
from __future__ import annotations

import gradio as gr

from cnnzoo.data import dataset_info
from cnnzoo.gan_trainer import DEFAULT_STEPS, GANConfig
from cnnzoo.recipes import GAN_PRESETS, RECIPES, SOURCES
from cnnzoo.trainer import TrainConfig
from ui.common import KNOBS, Outputs, knob_updates, user_errors

OWN = "(your own settings)"
OPTIMIZER_CHOICES = [("sgd", "sgd"), ("sgd + Nesterov", "sgd-nesterov"), ("adam", "adam"), ("rmsprop", "rmsprop")]
HE_MULTISTEP = dict(schedule="multistep", gamma=0.1, milestones=(0.5, 0.75))  # 32k and 48k of 64k steps
SCHEDULE_CHOICES = [("constant", "constant"), ("multistep ×0.2 at 30/60/80%", "multistep"),
                    ("multistep ×0.1 at 50/75%", "multistep-he"), ("cosine", "cosine"), ("onecycle", "onecycle")]
NORMALISATION_TEXT = {
    "dataset": "normalised with the dataset's own mean/std",
    "none": "not normalised: pixels in [0, 1], as ToTensor() alone leaves them",
    "seeds-cifar": "normalised with the seeds' CIFAR mean (0.4914, 0.4822, 0.4465) and std (0.2023, 0.1994, 0.2010)",
}
RECIPE_OUTPUTS = Outputs("model_name", *KNOBS, "dataset", "image_size", "epochs", "batch_size", "optimizer", "lr",
                         "momentum", "weight_decay", "schedule", "augment", "label_smoothing", "seed", "train_subset",
                         "val_fraction", "recipe_note", "normalisation")
GAN_OUTPUTS = Outputs("model", "dataset", "image_size", "width", "steps", "lr", "clip", "n_critic", "seed",
                      "sample_every", "preset_note")


# ---------------------------------------------------------------------------------------------
# Train tab: the form's choices <-> TrainConfig fields
# ---------------------------------------------------------------------------------------------


def optimizer_fields(choice: str) -> dict:
    """The TrainConfig fields of the form's optimizer choice."""
    return dict(optimizer="sgd", nesterov=True) if choice == "sgd-nesterov" else dict(optimizer=choice)


def schedule_fields(choice: str) -> dict:
    """The TrainConfig fields of the form's schedule choice (multistep: TrainConfig's ×0.2 at 30/60/80%)."""
    return dict(HE_MULTISTEP) if choice == "multistep-he" else dict(schedule=choice)


def schedule_choice(config: TrainConfig) -> str:
    """The form's schedule choice for a config; ValueError for a multistep the form cannot show."""
    if config.schedule != "multistep":
        return config.schedule
    for choice in ("multistep", "multistep-he"):
        shown = TrainConfig(**schedule_fields(choice))
        if (shown.gamma, tuple(shown.milestones)) == (config.gamma, tuple(config.milestones)):
            return choice
    raise ValueError(f"the form has no multistep ×{config.gamma:g} at {config.milestones}")


def form_values(name: str) -> dict:
    """The Train form's values for recipe `name` (TrainConfig's defaults where it says nothing),
    the model's knobs under "knobs" and the normalisation under "normalisation"."""
    check_name(name, RECIPES, "recipe")
    c = TrainConfig.from_dict(RECIPES[name])
    return dict(model_name=c.model, knobs=dict(c.knobs), dataset=c.dataset,
                image_size="native" if c.image_size is None else str(c.image_size), epochs=c.epochs,
                batch_size=c.batch_size, optimizer="sgd-nesterov" if c.nesterov else c.optimizer, lr=c.lr,
                momentum=c.momentum, weight_decay=c.weight_decay, schedule=schedule_choice(c), augment=c.augment,
                label_smoothing=c.label_smoothing, seed=c.seed, train_subset=c.train_subset or 0,
                val_fraction=c.val_fraction, normalisation=c.normalisation)


def check_name(name: str, table: dict, kind: str) -> None:
    if name not in table:
        raise ValueError(f"no {kind} {name!r}: choose one of {', '.join(table)}")


def labelled(names) -> list:
    """Dropdown choices: "(your own settings)", then each name labelled with its source."""
    return [OWN, *((f"{name} · {SOURCES[name]}", name) for name in names)]


def recipe_controls() -> dict:
    """The recipe list at the top of the Train form, its note, and the normalisation it sets."""
    return {
        "recipe": gr.Dropdown(labelled(RECIPES), value=OWN, label="recipe",
                              info="the papers' and the seeds' settings, and this project's fast ones",
                              elem_id="train-recipe"),
        "recipe_note": gr.Markdown(elem_id="train-recipe-note"),
        "normalisation": gr.State("dataset"),
    }


def train_recipe(recipe: str):
    """Fill the Train form with a recipe of cnnzoo.recipes (its name, or "(your own settings)" to
    leave the form as it is); returns the form's values, a note naming the source, the normalisation."""
    if recipe in (None, "", OWN):
        return RECIPE_OUTPUTS(recipe_note=f"Your own settings: inputs {NORMALISATION_TEXT['dataset']}.",
                              normalisation="dataset")
    with user_errors():
        values = form_values(recipe)
    knobs = knob_updates(values["model_name"], hide=("num_classes",), values=values.pop("knobs"))
    return RECIPE_OUTPUTS(**values, **dict(zip(KNOBS, knobs)), recipe_note=recipe_note(recipe, values))


def recipe_note(name: str, values: dict) -> str:
    """What a recipe filled in, where its settings come from, and where its data must be."""
    info, v = dataset_info(values["dataset"]), values
    label = {value: label for label, value in OPTIMIZER_CHOICES + SCHEDULE_CHOICES}
    knobs = ", ".join(f"{knob} {value:g}" for knob, value in knobs_of(name).items())
    settings = [f"{v['model_name']}{f' ({knobs})' if knobs else ''} on {v['dataset']}", f"{v['epochs']:g} epochs",
                f"batch {v['batch_size']}", f"{label[v['optimizer']]} lr {v['lr']:g}, momentum {v['momentum']:g}, "
                f"weight decay {v['weight_decay']:g}", label[v["schedule"]], "augmentation " + ("on" if v["augment"] else "off")]
    lines = [f"**{name}**, from {SOURCES[name]}", "filled in: " + " · ".join(settings),
             f"inputs {NORMALISATION_TEXT[v['normalisation']]}"]
    if not info["offline"]:
        lines.append(f"{info['description']} is read from ./data: if it is not there, **Train** says so")
    lines.append(f"from a shell: `python -m train.classifier --recipe {name}`")
    return "\n".join(["- " + line for line in lines])


def knobs_of(name: str) -> dict:
    return dict(RECIPES[name].get("knobs", {}))


def dataset_chosen(normalisation: str):
    """A dataset chosen by hand: back to its own mean/std (a recipe's may not fit it)."""
    if normalisation == "dataset":
        return gr.skip(), gr.skip()
    return "dataset", f"The dataset was changed: inputs {NORMALISATION_TEXT['dataset']}."


# ---------------------------------------------------------------------------------------------
# GAN tab: presets
# ---------------------------------------------------------------------------------------------


def preset_dropdown() -> gr.Dropdown:
    return gr.Dropdown(labelled(GAN_PRESETS), value=OWN, label="preset",
                       info="the seeds' DCGAN and WGAN, the WGAN paper's clip, the CPU defaults", elem_id="gan-preset")


def gan_preset_values(preset: str, max_width: int):
    """The GAN form's values for a preset of cnnzoo.recipes.GAN_PRESETS, and a note naming its source."""
    if preset in (None, "", OWN):
        return GAN_OUTPUTS(preset_note="Your own settings.")
    with user_errors():
        check_name(preset, GAN_PRESETS, "preset")
    c = GANConfig(**GAN_PRESETS[preset])
    return GAN_OUTPUTS(model=c.model, dataset=c.dataset, image_size=c.image_size, width=c.width,
                       steps=c.steps or DEFAULT_STEPS[c.model], lr=c.learning_rate, clip=c.clip, n_critic=c.n_critic,
                       seed=c.seed, sample_every=c.sample_every, preset_note=preset_note(preset, c, max_width))


def preset_note(name: str, config: GANConfig, max_width: int) -> str:
    preset, form_batch = GAN_PRESETS[name], GANConfig().batch_size
    command = "python -m train.gan " + " ".join(f"--{key.replace('_', '-')} {value}" for key, value in preset.items())
    notes = [f"**{name}** filled in, from {SOURCES[name]}"]
    if not dataset_info(config.dataset)["offline"]:
        notes.append(f"{config.dataset} is read from ./data: if it is not there, **Train** says so")
    if config.width > max_width:
        notes.append(f"width {config.width} is wider than this server trains ({max_width}): **Train** will refuse")
    if config.batch_size != form_batch:
        notes.append(f"this form trains with batch {form_batch}; the preset's is {config.batch_size}")
    notes.append(f"the whole preset, from a shell (a GPU for width > 64): `{command}`")
    return "\n".join(["- " + note for note in notes])
