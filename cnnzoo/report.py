"""The lab report: a student's runs as one self-contained HTML file, and their files as one zip.

    report = write_lab_report([("resnet20 · digits #1", "runs/r20"), ("dcgan · digits #1", "runs/dcgan")],
                              "out/", pictures=[("cam-overlays.png", "CAM of my cat")])
    report.html, report.zip          # out/cnnzoo-lab-report.html, out/cnnzoo-lab-report.zip
    report.summary()                 # "1 classifier run, 1 GAN run"

Each run is read from its run folder (cnnzoo.runs: record.json and the files it names). Per run
the HTML shows the curves drawn from the record's events (train/test loss and accuracy; a GAN's
D and G losses and D's outputs or the Wasserstein estimate), a classifier's test confusion
matrix (cnnzoo.trainer.classifier_report of its checkpoint), the CAM timeline, a GAN's progress
GIF and final samples, the model's shape table (cnnzoo.trace, on the meta device: no weights
are read), the exact settings and the command line that reproduces the run.

Self-contained: every picture is a base64 data: URI, the CSS is inline, and a Content-Security-
Policy forbids the page to load anything, so it opens offline, years later, on a phone or on
paper. Every text that a user chose (run names, captions, settings) is HTML-escaped, and only
files inside a run's own folder are read: a damaged or tampered record cannot pull other files
of the server into a report.

The zip holds, per run, everything the record lists (checkpoints, metrics.csv, record.json, the
CAM timeline or sample pictures, the per-epoch images), so each folder in it is a run folder that
cnnzoo.replay can play back. Not the *.state.pt resume files: they are optimizer state, as large
again as the weights (Adam's twice), pickles rather than safetensors, and needed only to continue
training, which the command line redoes from scratch.
"""
from __future__ import annotations

import base64
import html
import io
import json
import re
import shlex
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cnnzoo.checkpoints import code_version, read_checkpoint_meta
from cnnzoo.files import atomic_write
from cnnzoo.gan_trainer import GANConfig
from cnnzoo.recipes import RECIPES
from cnnzoo.registry import create_model
from cnnzoo.runs import RunDir, read_record
from cnnzoo.trace import trace
from cnnzoo.viz import confusion_figure
from cnnzoo.trainer import TrainConfig, classifier_report

HTML_NAME, ZIP_NAME = "cnnzoo-lab-report.html", "cnnzoo-lab-report.zip"
MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
CHECKPOINT_ROLES = ("checkpoint", "best", "generator", "discriminator")

# What the command lines can set (train/classifier.py, train/gan.py). A field is "--" + its name
# with "-" for "_", but for these two; the booleans are --x / --no-x (BooleanOptionalAction).
RENAMED_FLAGS = {"time_limit_s": "--time-limit", "out_dir": "--out"}
BOOLEAN_FLAGS = {"nesterov", "augment", "sync_batchnorm"}
CLASSIFIER_FLAGS = {
    "model", "knobs", "dataset", "dataset_path", "image_size", "epochs", "batch_size", "lr", "momentum",
    "weight_decay", "gamma", "warmup_epochs", "label_smoothing", "seed", "train_subset", "val_fraction",
    "evals_per_epoch", "optimizer", "schedule", "nesterov", "augment", "device", "precision", "sync_batchnorm",
    "time_limit_s", "out_dir", "cam_probe",
}  # fmt: skip
GAN_FLAGS = {
    "model", "dataset", "image_size", "width", "latent_dim", "batch_size", "lr", "beta1", "clip", "n_critic",
    "g_noise", "optimizer", "steps", "epochs", "seed", "sample_every", "scorer", "score_every", "device",
    "time_limit_s", "out_dir",
}  # fmt: skip


@dataclass
class Command:
    """The shell command that trains a run again with the same config, and what it cannot say."""

    line: str
    notes: list[str] = field(default_factory=list)  # settings no flag can set, and other caveats


@dataclass
class LabReport:
    html: Path
    zip: Path
    classifiers: int
    gans: int
    left_out: list[str]  # "name: why" of each run that could not be read

    def summary(self) -> str:
        def count(n, what):
            return f"{n} {what} run{'' if n == 1 else 's'}"

        left = f"; left out {len(self.left_out)} unreadable" if self.left_out else ""
        return f"{count(self.classifiers, 'classifier')}, {count(self.gans, 'GAN')}{left}"


# ---------------------------------------------------------------------------------------------
# The command line that reproduces a run
# ---------------------------------------------------------------------------------------------


def _plain(value):
    """Tuples as lists, recursively: a config read back from JSON compares equal to the original."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def same_config(a: dict, b: dict) -> bool:
    """Do two config dicts define the same run (3 == 3.0, a tuple == its list)?"""
    return _plain(a) == _plain(b)


def _flag_value(value) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def _flags(name: str, value) -> list[str]:
    flag = RENAMED_FLAGS.get(name, "--" + name.replace("_", "-"))
    if name in BOOLEAN_FLAGS:
        return [flag if value else "--no-" + flag[2:]]
    return [flag, _flag_value(value)]


def _best_recipe(values: dict, defaults: dict, settable: set) -> tuple[str | None, dict]:
    """(recipe, the config it starts from): None and the defaults when the flags alone suffice; else
    the recipe that gives the settings no flag can set, with the fewest flags left to add."""
    fixed = [k for k in defaults if k not in settable]
    if all(_plain(values[k]) == _plain(defaults[k]) for k in fixed):
        return None, defaults
    fits = []
    for name, recipe in RECIPES.items():
        start = {**defaults, **recipe}
        if all(_plain(values[k]) == _plain(start[k]) for k in fixed):
            fits.append((sum(_plain(values[k]) != _plain(start[k]) for k in defaults), name, start))
    return (min(fits)[1], min(fits)[2]) if fits else (None, defaults)


def reproduce_command(kind: str, config: dict, out_dir: str) -> Command:
    """`python -m train.classifier …` (kind "classifier") or `python -m train.gan …` (kind "gan")
    with exactly the flags whose parse (train/*.py: parse_args, config_from_args) gives `config`
    again, its files going to `out_dir`. Only settings that differ from the defaults (or from the
    recipe that sets what no flag can) are written. What no flag can say goes into the notes."""
    config_class, module, settable = ((TrainConfig, "train.classifier", CLASSIFIER_FLAGS) if kind == "classifier"
                                      else (GANConfig, "train.gan", GAN_FLAGS))
    defaults = config_class().to_dict()
    values = {**defaults, **{k: v for k, v in config.items() if k in defaults}, "out_dir": out_dir}
    recipe, start = _best_recipe(values, defaults, settable) if kind == "classifier" else (None, defaults)
    words, notes = ["python", "-m", module] + (["--recipe", recipe] if recipe else []), []
    for name, value in values.items():
        if _plain(value) == _plain(start[name]):
            continue
        if name in settable and value is not None:
            words += _flags(name, value)
        elif name == "scorer" and value is None:
            words += ["--scorer", "none"]
        else:
            notes.append(f"{name} = {json.dumps(_plain(value))} has no command-line flag (the default is "
                         f"{json.dumps(_plain(start[name]))}): set it in Python, {config_class.__name__}({name}=…)")
    return Command(" ".join(shlex.quote(w) for w in words), notes)


# ---------------------------------------------------------------------------------------------
# Pictures: figures drawn from the record, files read from the run folder
# ---------------------------------------------------------------------------------------------


def run_file(folder: Path, relative: str | None) -> Path | None:
    """A file the record names, if it exists inside the run's folder (never outside it)."""
    if not relative:
        return None
    path = (folder / relative).resolve()
    return path if path.is_file() and path.is_relative_to(folder.resolve()) else None


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130)
    return buffer.getvalue()


def _axes(title: str, xlabel: str, ylabel: str, size=(4.8, 3.3)):
    from matplotlib.figure import Figure  # imported on use: `import cnnzoo` stays light

    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _line(ax, rows: list[dict], x: str, y: str, label: str, scale: float = 1.0, **style) -> None:
    points = [(r[x], r[y] * scale) for r in rows if r.get(y) is not None and r.get(x) is not None]
    if points:
        ax.plot(*zip(*points), label=label, **style)


def _with_legends(figures: list) -> list:
    """The (figure, caption) pairs that have a line, each with its legend."""
    drawn = [(fig, caption) for fig, caption in figures if fig.axes[0].lines]
    for fig, _ in drawn:
        fig.axes[0].legend(fontsize="small")
    return drawn


def classifier_curves(events: list[dict]) -> list:
    """(figure, caption) over epochs: train and test (and validation) loss; the same for accuracy in %."""
    steps = [e for e in events if e.get("kind") == "step"]
    evals = [e for e in events if e.get("kind") == "eval"]
    figures = []
    for metric, title, scale in (("loss", "loss (cross-entropy)", 1.0), ("acc", "accuracy (%)", 100.0)):
        fig, ax = _axes(title, "epoch", title.split(" ")[0])
        _line(ax, steps, "epoch", f"train_{metric}", "train", scale, lw=1, alpha=0.8)
        _line(ax, evals, "epoch", f"test_{metric}", "test", scale, marker=".")
        _line(ax, evals, "epoch", f"val_{metric}", "validation", scale, marker=".")
        figures.append((fig, "train: the mean over the (augmented) batches since the previous point; test: the "
                             "test set at each evaluation" if metric == "loss" else "the share of images classified right, "
                             "at the same points"))
    return _with_legends(figures)


def gan_curves(events: list[dict]) -> list:
    """(figure, caption) over generator steps: D's (or the critic's) and G's losses; D's outputs on real
    and fake images (DCGAN) or the Wasserstein estimate (WGAN)."""
    steps = [e for e in events if e.get("kind") == "step"]
    wgan = any(e.get("wasserstein") is not None for e in steps)
    fig, ax = _axes("losses", "generator step", "loss")
    _line(ax, steps, "step", "d_loss", "critic" if wgan else "discriminator", lw=1)
    _line(ax, steps, "step", "g_loss", "generator", lw=1)
    second, ax2 = _axes("Wasserstein estimate" if wgan else "discriminator outputs", "generator step",
                        "−critic loss" if wgan else "mean D(·)")
    if wgan:
        _line(ax2, steps, "step", "wasserstein", "Wasserstein estimate", lw=1)
    else:
        _line(ax2, steps, "step", "d_real", "D(x), real", lw=1)
        _line(ax2, steps, "step", "d_fake", "D(G(z)), fake", lw=1)
    explained = ("−critic loss estimates the Wasserstein-1 distance between real and generated images: it "
                 "should fall as the samples improve" if wgan else "D(x) near 1 and D(G(z)) near 0: D is winning; "
                 "both near 0.5: D can no longer tell real from fake")
    return _with_legends([(fig, "the two losses, means over each logging interval"), (second, explained)])


# ---------------------------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------------------------

esc = html.escape
CSS = """
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0 auto;max-width:1000px;padding:12px 16px}
h1{font-size:1.6rem;margin:.4em 0}h2{font-size:1.3rem;border-bottom:2px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05rem;margin:1.2em 0 .4em}
img{max-width:100%;height:auto}
.pixels{image-rendering:pixelated}
.wide{grid-column:1/-1}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px;align-items:start}
figure{margin:0;break-inside:avoid}figcaption{font-size:.85rem;color:#57606a}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}
.meta{color:#57606a;font-size:.9rem}.note{color:#9a6700;font-size:.9rem}
nav ol{padding-left:1.4em}
@media (max-width:600px){body{padding:8px 10px}table{font-size:.72rem}td,th{padding:1px 3px}}
@media print{body{max-width:none;font-size:11pt}section.run+section.run{break-before:page}a{color:inherit;text-decoration:none}
details>summary{list-style:none}}
"""


def _image(data: bytes, mime: str, caption: str, pixels: bool = False, min_width: int = 0, wide: bool = False,
           scale: int | None = None) -> str:
    """A <figure> with the picture inline; small pixel pictures are drawn larger (`scale`×, or enough
    whole times to reach min_width), pixel-sharp; a wide one (a strip) spans the grid's row."""
    style = ""
    if pixels and (min_width or scale):
        from PIL import Image

        width = Image.open(io.BytesIO(data)).width
        style = f' style="width:{width * (scale or max(1, min_width // max(width, 1)))}px"'
    return (f'<figure{" class=wide" if wide else ""}><img src="{data_uri(data, mime)}" alt="{esc(caption)}"{" class=pixels" if pixels else ""}'
            f'{style}><figcaption>{esc(caption)}</figcaption></figure>')


def _file_image(path: Path | None, caption: str, min_width: int = 280, wide: bool = False, scale: int | None = None) -> str:
    if path is None or path.suffix.lower() not in MIME:
        return ""
    return _image(path.read_bytes(), MIME[path.suffix.lower()], caption, True, min_width, wide, scale)


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    def cells(values, tag):
        return "".join(f'<{tag}{" class=n" if i in numeric else ""}>{esc(str(v))}</{tag}>' for i, v in enumerate(values))

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{cells(header, "th")}</tr></thead><tbody>{body}</tbody></table></div>'


def _setting(value) -> str:
    return json.dumps(_plain(value), ensure_ascii=False) if isinstance(value, (dict, list, tuple)) else str(value)


def settings_table(config: dict) -> str:
    return _table(["setting", "value"], [[k, _setting(v)] for k, v in config.items()])


def shape_table(title: str, model_name: str, knobs: dict, input_size) -> str:
    """The model's layers (cnnzoo.trace): output shape, parameters, MACs; traced on the meta device."""
    with torch.device("meta"):
        model = create_model(model_name, **knobs)
    result = trace(model, tuple(int(v) for v in input_size), device="meta")
    rows = [[r.name, r.layer_type, "×".join(map(str, r.output_shape[1:])), f"{r.params:,}", f"{r.macs:,}"]
            for r in result.rows]
    rows.append(["total", "", "×".join(map(str, result.output_shape[1:])), f"{result.total_params:,}",
                 f"{result.total_macs:,}"])
    shape = "×".join(map(str, input_size))
    return (f"<details open><summary><b>{esc(title)}</b>: {esc(model_name)} on a {shape} input · "
            f"{result.total_params:,} parameters · {result.total_macs:,} MACs</summary>"
            f"{_table(['layer', 'type', 'output shape', 'params', 'MACs'], rows, {3, 4})}</details>")


def _shape_tables(section: "RunSection") -> tuple[str, dict]:
    """(HTML of the shape tables, the checkpoint's metadata) of a run, from its checkpoints' headers."""
    checkpoint = section.file("checkpoint") or section.file("generator")
    if checkpoint is None:
        return "<p class=note>No checkpoint was saved, so there is no shape table.</p>", {}
    meta = read_checkpoint_meta(checkpoint)
    if section.kind == "classifier":
        return shape_table("the network", meta["model"], meta["knobs"], meta["input_size"]), meta
    tables = shape_table("generator", meta["model"], meta["knobs"], (meta["latent_dim"], 1, 1))
    discriminator = section.file("discriminator")
    if discriminator is not None:
        d_meta, side = read_checkpoint_meta(discriminator), meta["image_size"]
        name = "critic" if meta.get("gan") == "wgan" else "discriminator"
        tables += shape_table(name, d_meta["model"], d_meta["knobs"], (meta["channels"], side, side))
    return tables, meta


# ---------------------------------------------------------------------------------------------
# One run's section
# ---------------------------------------------------------------------------------------------


@dataclass
class RunSection:
    """What the report knows of one run: its name, folder and record; its zip folder's name."""

    name: str
    folder: Path
    record: dict
    zip_folder: str

    @property
    def kind(self) -> str:
        return self.record.get("kind", "classifier")

    @property
    def config(self) -> dict:
        return self.record.get("config") or {}

    def file(self, role: str) -> Path | None:
        return run_file(self.folder, (self.record.get("files") or {}).get(role))

    def files_for_zip(self) -> list[Path]:
        """Every file the record lists and the pictures it points at, inside the run's folder."""
        names = [*(self.record.get("files") or {}).values(), *(i.get("file") for i in self.record.get("images") or [])]
        found = {run_file(self.folder, name) for name in names} | {run_file(self.folder, RunDir.RECORD)}
        return sorted(p for p in found if p is not None and not p.name.endswith(".state.pt"))


def _headline(section: RunSection) -> str:
    c, events = section.config, section.record.get("events") or []
    last_eval = next((e for e in reversed(events) if e.get("kind") == "eval" and e.get("test_acc") is not None), None)
    score = next((e for e in reversed(events) if e.get("kind") == "score"), None)
    parts = [section.kind, f"{c.get('model', '?')} on {c.get('dataset', '?')}", f"status: {section.record.get('status')}"]
    if last_eval:
        parts.append(f"test accuracy {last_eval['test_acc']:.2%} at epoch {last_eval['epoch']:g}")
    if score and score.get("message"):
        parts.append(f"samples: {score['message']}")
    end = next((e for e in reversed(events) if e.get("kind") == "end"), None)
    if end and end.get("elapsed_s"):
        parts.append(f"{end['elapsed_s']:.0f} s")
    return " · ".join(parts)


def _pictures(section: RunSection) -> str:
    """The run's figures and pictures: curves, confusion matrix, CAM timeline | progress GIF, samples."""
    events = section.record.get("events") or []
    curves = classifier_curves(events) if section.kind == "classifier" else gan_curves(events)
    parts = [_image(figure_png(fig), "image/png", caption) for fig, caption in curves]
    if section.kind == "classifier":
        parts.append(_confusion(section))
        parts.append(_file_image(section.file("cam_strip"), "CAM timeline: where the network looks on the probe "
                                 "test image, epoch by epoch (epoch 0: untrained)", wide=True, scale=2))
        parts.append(_file_image(section.file("cam_timeline"), "the CAM timeline as an animation", scale=2))
    else:
        parts.append(_file_image(section.file("gif"), "progress: the same fixed noise through the generator during training"))
        parts.append(_file_image(section.file("samples"), "final samples (the fixed noise at the end)"))
    return f'<div class="grid">{"".join(parts)}</div>'


def _confusion(section: RunSection) -> str:
    checkpoint = section.file("checkpoint")
    if checkpoint is None:
        return ""
    try:
        report = classifier_report(checkpoint)
    except ValueError as error:  # e.g. the test set is not on this machine any more
        return f"<p class=note>No confusion matrix: {esc(str(error))}</p>"
    fig = confusion_figure(report.confusion, report.class_names, section.name)
    right = int(report.confusion.diagonal().sum())
    total = int(report.confusion.sum())
    return _image(figure_png(fig), "image/png", f"test set: {right} of {total} right ({right / max(total, 1):.2%}), "
                                                f"{section.file('checkpoint').name}")


def _zip_listing(section: RunSection) -> list[str]:
    """The run's files in the zip: those at its top, then each sub-folder as one line with a count."""
    relative = [p.relative_to(section.folder.resolve()) for p in section.files_for_zip()]
    top = [str(r) for r in relative if len(r.parts) == 1]
    folders: dict[str, int] = {}
    for r in relative:
        if len(r.parts) > 1:
            folders[r.parts[0]] = folders.get(r.parts[0], 0) + 1
    return top + [f"{name}/ ({n} picture{'s' if n != 1 else ''}, one per epoch or sample grid)" for name, n in folders.items()]


def run_html(index: int, section: RunSection) -> str:
    """One run's section of the report."""
    tables, meta = _shape_tables(section)
    command = reproduce_command(section.kind, section.config, f"runs/{section.zip_folder}")
    notes = list(command.notes)
    if section.config.get("precision") == "auto" and meta.get("precision"):
        notes.append(f"precision auto chose {meta['precision']} on the machine that trained it; add --precision "
                     f"{meta['precision']} to compute in the same format elsewhere")
    if section.record.get("status") == "running":
        notes.append("this run was still training when the report was made")
    files = "".join(f"<li>{esc(section.zip_folder)}/{esc(line)}</li>" for line in _zip_listing(section))
    return f"""<section class="run" id="run-{index}">
<h2>{index}. {esc(section.name)}</h2>
<p class="meta">{esc(_headline(section))}</p>
{_pictures(section)}
<h3>The model's shape table</h3>
{tables}
<h3>Reproduce it</h3>
<pre>{esc(command.line)}</pre>
{"".join(f"<p class=note>{esc(n)}</p>" for n in notes)}
<h3>The exact settings</h3>
{settings_table(section.config)}
<h3>In the zip</h3>
<ul>{files}</ul>
</section>"""


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:48] or "run"


def read_sections(runs) -> tuple[list[RunSection], list[str]]:
    """(the readable runs, "name: why" for each unreadable one) of (name, folder) pairs."""
    sections, left_out = [], []
    for name, folder in runs:
        try:
            record = read_record(folder)
        except ValueError as error:
            left_out.append(f"{name}: {error}")
            continue
        folder = Path(folder)
        sections.append(RunSection(str(name), folder, record, f"{len(sections) + 1:02d}-{_slug(str(name))}"))
    return sections, left_out


def report_html(sections: list[RunSection], pictures=(), left_out=(), title: str = "cnnzoo lab report") -> str:
    """The whole report as one HTML document; pictures: (path, caption) pairs shown at the end."""
    counts = LabReport(Path(), Path(), sum(s.kind == "classifier" for s in sections),
                       sum(s.kind == "gan" for s in sections), list(left_out)).summary()
    toc = "".join(f'<li><a href="#run-{i}">{esc(s.name)}</a> ({esc(s.kind)})</li>' for i, s in enumerate(sections, 1))
    extra = "".join(_file_image(Path(p), caption) for p, caption in pictures if Path(p).is_file())
    left = "".join(f"<li>{esc(line)}</li>" for line in left_out)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{esc(title)}</title><style>{CSS}</style></head><body>
<h1>{esc(title)}</h1>
<p class="meta">Made {time.strftime('%Y-%m-%d %H:%M')} by cnnzoo {esc(code_version())} · {esc(counts)}</p>
<nav><ol>{toc}</ol></nav>
{"".join(run_html(i, s) for i, s in enumerate(sections, 1))}
{f'<section><h2>Other pictures from the page</h2><div class="grid">{extra}</div></section>' if extra else ""}
{f"<section><h2>Left out</h2><ul>{left}</ul></section>" if left else ""}
</body></html>
"""


def report_zip(sections: list[RunSection], html_text: str) -> bytes:
    """The zip: the report itself, and per run its folder (see the module docstring)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(HTML_NAME, html_text, compress_type=zipfile.ZIP_DEFLATED)
        for section in sections:
            root = section.folder.resolve()
            for path in section.files_for_zip():
                # Weights and pictures hardly compress: stored, not deflated (much faster).
                packed = zipfile.ZIP_STORED if path.suffix in (".safetensors", ".png", ".gif") else zipfile.ZIP_DEFLATED
                archive.write(path, f"{section.zip_folder}/{path.relative_to(root)}", compress_type=packed)
    return buffer.getvalue()


def write_lab_report(runs, out_dir: str | Path, pictures=(), title: str = "cnnzoo lab report") -> LabReport:
    """Write out_dir/cnnzoo-lab-report.html and .zip (atomically) for `runs`, (name, run folder)
    pairs, classifier and GAN alike; pictures: (path, caption) pairs from elsewhere on the page.
    Runs whose record cannot be read are left out, and the report says which and why.
    ValueError when there is nothing at all to report."""
    runs, pictures = list(runs), list(pictures)
    if not runs and not pictures:
        raise ValueError("There is nothing to report yet: train a classifier (Train tab) or a GAN (GAN tab) first.")
    sections, left_out = read_sections(runs)
    text = report_html(sections, pictures, left_out, title)
    out_dir = Path(out_dir)
    html_path = atomic_write(out_dir / HTML_NAME, text, durable=False)
    zip_path = atomic_write(out_dir / ZIP_NAME, report_zip(sections, text), durable=False)
    return LabReport(html_path, zip_path, sum(s.kind == "classifier" for s in sections),
                     sum(s.kind == "gan" for s in sections), left_out)


__all__ = ["Command", "LabReport", "reproduce_command", "same_config", "write_lab_report", "report_html",
           "read_sections", "classifier_curves", "gan_curves", "confusion_figure"]
