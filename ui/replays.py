"""The shipped run records the tabs can replay (cnnzoo.replay), and the controls that pick one.

checkpoints/records/ holds one folder per record: a run folder packed by cnnzoo.replay.pack_record
(record.json and its pictures), or a group of them (the degradation experiment's four runs) whose
group.json names its title and its runs in order. A record's own title is its record.json's
optional "title". Records of runs made elsewhere are added by dropping their folder here.
"""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from cnnzoo.replay import SPEEDS, Replay
from cnnzoo.runs import read_record

RECORDS = Path(__file__).resolve().parent.parent / "checkpoints" / "records"
FIRST = {"classifier": "train-default", "gan": "dcgan-digits"}  # each list opens on its tab's default run


def shipped_records(kind: str) -> dict[str, str]:
    """{title: folder name} of the shipped records of one kind ("classifier" or "gan"), groups too."""
    found = {}
    for folder in sorted(p for p in RECORDS.glob("*") if p.is_dir()):
        records = [read_record(run) for run in run_folders(folder.name)]
        if records and all(record["kind"] == kind for record in records):
            config = records[0]["config"]
            title = group_spec(folder.name).get("title") or records[0].get("title")
            found[title or f"{config.get('model')} · {config.get('dataset')}"] = folder.name
    return found


def run_folders(name: str) -> list[Path]:
    """The run folders of shipped record `name`: itself, or the runs its group.json lists."""
    folder = RECORDS / name
    if (folder / "record.json").exists():
        return [folder]
    return [folder / run for run in group_spec(name).get("runs", [])]


def group_spec(name: str) -> dict:
    """The group.json of a shipped group of records (title, runs, and what the group adds: the
    degradation record's final errors), or {} for a single record."""
    path = RECORDS / name / "group.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def replays(name: str, speed, position, kind: str) -> list[Replay]:
    """The Replays of shipped record `name` at `speed`, each from `position` % of its run; ValueError
    naming the field for a record that is not shipped or a position outside 0-100. Reads only that
    record."""
    shipped = {p.name for p in RECORDS.glob("*") if p.is_dir()}
    runs = [Replay(folder, speed=float(speed or 1)) for folder in run_folders(name)] if name in shipped else []
    if not runs or any(run.kind != kind for run in runs):
        raise ValueError(f"record: choose one of the recorded runs in the list (not {name!r})")
    position = float(position or 0)
    if not 0 <= position <= 100:
        raise ValueError("replay position must be from 0 to 100 (% of the run)")
    for run in runs:
        run.from_step = round(position / 100 * run.total_steps)
    return runs


def replay_controls(kind: str, prefix: str) -> dict[str, gr.components.Component]:
    """A record list, a speed, a scrub bar (position in % of the run) and a Replay button."""
    choices = sorted(shipped_records(kind).items(), key=lambda choice: choice[1] != FIRST[kind])
    c = {}
    with gr.Accordion("Replay a recorded run (no waiting: a teacher's demo)", open=False):
        c[f"{prefix}record"] = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="recorded run",
                                           info="shipped with cnnzoo: what these runs did, replayed as if live")
        with gr.Row():
            c[f"{prefix}speed"] = gr.Radio([(f"{s}×", s) for s in SPEEDS], value=16, label="speed (× the recorded pace)")
            c[f"{prefix}position"] = gr.Slider(0, 100, value=0, step=1, label="position (% of the run): drag to look, "
                                               "▶ plays from here")
        c[f"{prefix}btn"] = gr.Button("▶ Replay")
    return c
