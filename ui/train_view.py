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
from ui.common import MAX_TRAIN_S, duration
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
        if evals:
            frame = pd.DataFrame(evals)
            for split in ("test", "val"):
                if frame[f"{split}_loss"].notna().any():
                    series = f"{run.name} · {split}"
                    loss_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_loss"], "series": series}))
                    acc_rows.append(pd.DataFrame({"epoch": frame["epoch"], "value": frame[f"{split}_acc"] * 100, "series": series}))
    # None, not an empty frame: a LinePlot first given zero rows keeps an empty colour scale
    # and then draws later rows invisibly (seen in Chromium with gradio 6.31).
    return (pd.concat(loss_rows, ignore_index=True) if loss_rows else None,
            pd.concat(acc_rows, ignore_index=True) if acc_rows else None)


# The colours the plots give their series, in the order the rows name them: vega-lite's default
# scheme (tableau10), which gradio's LinePlot keeps when it has no color_map
PALETTE = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")


def curve_outputs(loss: pd.DataFrame | None, acc: pd.DataFrame | None) -> dict:
    """The loss and accuracy plots and their one legend (loss_plot, acc_plot, legend), from curves().

    The legend is the page's, in HTML that wraps: the plots' own legend is one row, so under a
    plot half the page wide it showed the first series and "simple_cr…". Both frames name their
    series in the same order, so a series has one colour in both plots and in the legend."""
    names = [] if loss is None else list(dict.fromkeys(loss["series"]))
    keys = "".join(f'<span class="cnnzoo-key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
                   f'{html.escape(name)}</span>' for i, name in enumerate(names))
    return {"loss_plot": loss, "acc_plot": acc, "legend": f'<div class="cnnzoo-legend">{keys}</div>'}


def live_status(job: Job, runs: list[Run]) -> str:
    """The status line of a running job: waiting for a slot, loading, or the latest event."""
    if job.waiting:
        return waiting_text()
    event = job.latest.get("last")
    if not runs or event is None or event.kind == "end" and runs[-1].status == "running":
        return f"**{runs[-1].name if runs else 'the run'}** · loading the data…"
    return status_line(runs[-1], event)


def status_line(run: Run, event) -> str:
    if event.kind == "start":
        return f"**{run.name}** · {event.message}"
    if event.kind == "end":  # shown at once: the report that follows takes a moment
        return final_line(run) + " · preparing the test report…"
    last_step = next((h for h in reversed(event.history) if h["kind"] == "step"), None)
    last_eval = next((h for h in reversed(event.history) if h["kind"] == "eval"), None)
    parts = [f"**{run.name}**", f"epoch {event.epoch:.2f} / {run.config['epochs']:g}",
             f"step {event.step} / {event.total_steps}"]
    if last_step:
        parts += [f"{last_step['images_per_s']:,.0f} images/s", f"ETA {duration(last_step['eta_s'])}",
                  f"lr {last_step['lr']:.3g}"]
    if last_eval and last_eval["test_acc"] is not None:
        parts.append(f"test acc {last_eval['test_acc']:.1%}")
    parts.append(str(event.device))
    return " · ".join(parts)


def final_line(run: Run) -> str:
    last_eval = next((h for h in reversed(run.history) if h["kind"] == "eval"), None)
    acc = f" · test accuracy **{last_eval['test_acc']:.2%}**" if last_eval else ""
    end = next((h for h in reversed(run.history) if h["kind"] == "end"), None)
    why = {
        "done": "finished", "stopped": "stopped: press Resume to continue", "nan": "stopped: the loss diverged",
        "time_limit": f"reached this server's {MAX_TRAIN_S / 60:g}-minute limit: press Resume to continue",
    }.get(run.status, run.status)  # fmt: skip
    message = f"<br>{end['message']}" if end and run.status == "nan" else ""
    return f"**{run.name}** {why}{acc}{message}"


def report_view(run: Run, folder: Path):
    """(confusion matrix figure, misclassified gallery) of a run's checkpoint, or nothing without one.
    The gallery's pictures go into `folder`, a folder of the session: the checkpoint may be a shipped
    one (a replay), whose folder is not the session's to write in."""
    if not run.checkpoint:
        return None, []
    report = classifier_report(run.checkpoint)
    figure = confusion_figure(report.confusion, report.class_names, run.name)
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
