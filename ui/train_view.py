"""What the Train tab shows of runs: the curves, the status lines, the test report.

Pure views of ui.sessions.Run records (their history, status and files), shared by a live run,
a resumed one and a replay (cnnzoo.replay): none of them knows which it draws.
"""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from cnnzoo.trainer import ClassifierReport, classifier_report
from cnnzoo.viz import confusion_figure, enlarge, save_png, whole_scale
from ui.common import MAX_TRAIN_S, drawn, duration
from ui.i18n import say
from ui.jobs import Job, waiting_text
from ui.sessions import Run

MISCLASSIFIED_SHOWN = 24




def curves(runs: list[Run], smoothing: float = 0.6) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Long-format rows (epoch, value, series) for the loss and accuracy plots.

    Train curves are smoothed like TensorBoard (exponential moving average with weight
    `smoothing`); test curves are already averages over the test set and are drawn as they are.
    """
    loss_rows, acc_rows = [], []
    for run in runs:
        steps = [h for h in run.history if h["kind"] == "step"]
        evals = [h for h in run.history if h["kind"] == "eval"]
        if steps:
            frame = pd.DataFrame(steps)
            alpha = 1 - min(max(float(smoothing or 0), 0.0), 0.99)
            loss = frame["train_loss"].ewm(alpha=alpha, adjust=True).mean()
            acc = frame["train_acc"].ewm(alpha=alpha, adjust=True).mean() * 100
            loss_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": loss, "series": f"{run.name} · train"}))
            acc_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": acc, "series": f"{run.name} · train"}))
        frame = pd.DataFrame(evals, columns=["epoch", "test_loss", "test_acc", "val_loss", "val_acc"])
        for split in ("test", "val"):
            series = f"{run.name} · {split}"
            if frame[f"{split}_loss"].notna().any():
                loss_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_loss"], "series": series}))
                acc_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_acc"] * 100, "series": series}))
            elif steps and (split == "test" or run.config.get("val_fraction")):
                # Not evaluated yet: the line is named with no point (a row with no value, which the
                # plot skips), so that its first evaluation adds no line to the plot: a LinePlot
                # draws only the lines of its first data, and resetting it logs errors (LinePlotLines).
                gap = pd.DataFrame({"epoch": [steps[0]["epoch"]], "value": [float("nan")], "series": series})
                loss_rows.append(gap)
                acc_rows.append(gap)
    # None, not an empty frame: a LinePlot first given zero rows keeps an empty colour scale
    # and then draws later rows invisibly (seen in Chromium with gradio 6.31).
    return (pd.concat(loss_rows, ignore_index=True) if loss_rows else None,
            pd.concat(acc_rows, ignore_index=True) if acc_rows else None)


# The colours the plots give their series, in the order the rows name them: vega-lite's default
# scheme (tableau10), which gradio's LinePlot keeps when it has no color_map
PALETTE = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")
HEADROOM = 1.25  # the loss axis ends this far above the highest training loss


def readable_losses(loss: pd.DataFrame | None) -> tuple[pd.DataFrame | None, float | None]:
    """(rows, ceiling): test and validation losses above HEADROOM × the highest training loss drawn
    at that ceiling, so that one exploding evaluation (a plain-56's first test loss is ~1.7 million,
    its batch-norm statistics not yet settled) does not flatten every other curve onto zero. The
    ceiling is None when nothing is cut. Training losses are never cut (they set the ceiling)."""
    if loss is None:
        return None, None
    train = loss["series"].str.endswith(" · train")
    if not train.any():
        return loss, None
    ceiling = HEADROOM * float(loss.loc[train, "value"].max())
    if not (loss["value"] > ceiling).any():
        return loss, None
    return loss.assign(value=loss["value"].clip(upper=ceiling)), ceiling


def final_numbers(run: Run) -> dict:
    """A run's numbers where its curves end: the training loss and accuracy over its last epoch (the
    step records of that epoch, unsmoothed), the last test loss and accuracy, the best test accuracy,
    epochs and seconds so far."""
    steps = [h for h in run.history if h["kind"] == "step"]
    evals = [h for h in run.history if h["kind"] == "eval" and h.get("test_acc") is not None]
    last_epoch = [h for h in steps if h["epoch"] > steps[-1]["epoch"] - 1] if steps else []
    mean = (lambda key: sum(h[key] for h in last_epoch) / len(last_epoch)) if last_epoch else (lambda key: None)
    timed = [h["elapsed_s"] for h in run.history if h.get("elapsed_s") is not None]
    return {"epochs": max((h["epoch"] for h in steps + evals), default=0.0), "train_loss": mean("train_loss"),
            "train_acc": mean("train_acc"), "test_loss": evals[-1]["test_loss"] if evals else None,
            "test_acc": evals[-1]["test_acc"] if evals else None,
            "best_test_acc": max(h["test_acc"] for h in evals) if evals else None,
            "seconds": timed[-1] if timed else None}


def legend_table(runs: list[Run], names: list[str], ceiling: float | None) -> str:
    """Both plots' legend as a table of final numbers, a row per run: the colour of each of its
    lines (as the plots draw them: PALETTE in the order `names` lists the series) under its name,
    then its numbers, the accuracies first (what a phone shows before it scrolls)."""
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}

    def cell(value, form):
        return "—" if value is None else form.format(value)

    rows = []
    for run in runs:
        keys = " ".join(f'<span class="cnnzoo-key"><i style="background:{colour[name]}"></i>{html.escape(split)}</span>'
                       for split in ("train", "test", "val") if (name := f"{run.name} · {split}") in colour)
        if not keys:
            continue
        n = final_numbers(run)
        rows.append(f"<tr><td>{html.escape(run.name)}<br>{keys}</td>"
                    f"<td>{cell(n['train_acc'], '{:.1%}')}</td><td>{cell(n['test_acc'], '{:.2%}')}</td>"
                    f"<td>{cell(n['train_loss'], '{:.3f}')}</td><td>{cell(n['test_loss'], '{:.3f}')}</td>"
                    f"<td>{cell(n['best_test_acc'], '{:.2%}')}</td><td>{cell(n['epochs'], '{:.3g}')}</td>"
                    f"<td>{cell(n['seconds'], '{:.0f}')}</td></tr>")
    if not rows:
        return '<div class="cnnzoo-legend"></div>'
    note = (f'<p>Test losses above {ceiling:.3g} ({HEADROOM:g} × the highest training loss) are drawn at {ceiling:.3g}, '
            "so one exploding evaluation does not flatten the other curves.</p>" if ceiling is not None else "")
    return ('<div class="cnnzoo-legend"><table><thead><tr><th>run and its lines</th><th>train acc</th>'
            "<th>test acc</th><th>train loss</th><th>test loss</th><th>best test</th><th>epochs</th>"
            f"<th>seconds</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{note}</div>")


def curve_outputs(runs: list[Run], smoothing: float = 0.6) -> dict:
    """The loss and accuracy plots of `runs` and their one legend (loss_plot, acc_plot, legend).

    The legend is the page's: a table of each run's final numbers with the colour of each of its
    lines (the plots' own legend is one row, so under a plot half the page wide it showed the
    first series and "simple_cr…"). Both frames name their series in the same order, so a series
    has one colour in both plots and in the legend. Losses are readable_losses()."""
    loss, acc = curves(runs, smoothing)
    names = [] if loss is None else list(dict.fromkeys(loss["series"]))
    loss, ceiling = readable_losses(loss)
    return {"loss_plot": loss, "acc_plot": acc, "legend": legend_table(runs, names, ceiling)}


def live_status(job: Job, runs: list[Run]) -> str:
    """The status line of a running job: waiting for a slot, loading, or the latest event."""
    if job.waiting:
        return waiting_text()
    event = job.latest.get("last")
    if not runs or event is None or event.kind == "end" and runs[-1].status == "running":
        return say("**{name}** · loading the data…", name=runs[-1].name if runs else "the run")
    return status_line(runs[-1], event)


def status_line(run: Run, event) -> str:
    if event.kind == "start":
        return f"**{run.name}** · {event.message}"
    if event.kind == "end":  # shown at once: the report that follows takes a moment. Not "finished"
        # yet: until the report is drawn the event still runs, and gradio drops a Train click meanwhile
        # A Stop is said at once, though: it is the answer to the student's click.
        ended = "stopped at step {step}" if event.reason == "stopped" else "training ended at step {step}"
        return say("**{name}** · {ended} · preparing the test report…", name=run.name,
                   ended=say(ended, step=event.step))
    last_step = next((h for h in reversed(event.history) if h["kind"] == "step"), None)
    last_eval = next((h for h in reversed(event.history) if h["kind"] == "eval"), None)
    parts = [f"**{run.name}**", say("epoch {epoch} / {epochs}", epoch=f"{event.epoch:.2f}", epochs=f"{run.config['epochs']:g}"),
             say("step {step} / {total}", step=event.step, total=event.total_steps)]
    if last_step:
        parts += [say("{rate} images/s", rate=f"{last_step['images_per_s']:,.0f}"),
                  say("ETA {eta}", eta=duration(last_step["eta_s"])), say("lr {lr}", lr=f"{last_step['lr']:.3g}")]
    if last_eval and last_eval["test_acc"] is not None:
        parts.append(say("test acc {acc}", acc=f"{last_eval['test_acc']:.1%}"))
    parts.append(str(event.device))
    return " · ".join(parts)


def final_line(run: Run) -> str:
    last_eval = next((h for h in reversed(run.history) if h["kind"] == "eval"), None)
    acc = say(" · test accuracy **{acc}**", acc=f"{last_eval['test_acc']:.2%}") if last_eval else ""
    end = next((h for h in reversed(run.history) if h["kind"] == "end"), None)
    why = {
        "done": say("finished"), "stopped": say("stopped: press Resume to continue"),
        "nan": say("stopped: the loss diverged"),
        "time_limit": say("reached this server's {minutes}-minute limit: press Resume to continue",
                          minutes=f"{MAX_TRAIN_S / 60:g}"),
    }.get(run.status, run.status)  # fmt: skip
    message = f"<br>{end['message']}" if end and run.status == "nan" else ""
    return f"**{run.name}** {why}{acc}{message}"


def report_view(run: Run, folder: Path):
    """(confusion matrix, drawn; misclassified gallery) of a run's checkpoint, or nothing without one.
    The gallery's pictures go into `folder`, a folder of the session: the checkpoint may be a shipped
    one (a replay), whose folder is not the session's to write in."""
    if not run.checkpoint:
        return None, []
    report = classifier_report(run.checkpoint)
    # Drawn here, in the run's own (lower-priority) thread, not by gradio in the page's (ui.common.drawn).
    figure = drawn(confusion_figure(report.confusion, report.class_names, run.name))
    # Files, not arrays: gradio caches an array by content hash and rewrites that file on every
    # request, so thirty students with identical default runs would read half-written images.
    return figure, misclassified_gallery(report, folder)


def misclassified_gallery(report: ClassifierReport, folder: Path) -> list[tuple[str, str]]:
    names, test = report.class_names, report.test_set
    gallery = []
    for i in report.wrong[:MISCLASSIFIED_SHOWN].tolist():
        image = test.images[i].permute(1, 2, 0)  # (H, W, C)
        path = save_png(enlarge(image, whole_scale(max(image.shape[:2]), 96)), folder / f"test{i}.png")
        caption = f"predicted {names[report.predictions[i]]} ({report.confidence[i]:.0%}) · true {names[test.labels[i]]}"
        gallery.append((str(path), caption))
    return gallery
