"""The Report tab: one click exports this browser's work as a lab report, one HTML file and one zip.

Run alone with `python -m ui.report_tab`; app.py renders `build_demo()` as a tab.

The handler adapts cnnzoo.report.write_lab_report: it gathers the run folders of the requesting
browser's session (ui/sessions.py: the Train tab's runs, the GAN tab's trained generators) and
the pictures other tabs left in its folder (the CAM tab's last overlays, the Experiments tab's
figures, the GAN tab's latent walks), and writes the report into that session's folder. Only
that session's files are read: a folder outside it is never reported, whatever a run says.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from cnnzoo.report import write_lab_report
from ui.common import serve, user_errors
from ui.sessions import Session, detach_page, page_load, session_for

# Drawing the figures and the confusion matrix takes a second or two per run: a few at once.
REPORT_CONCURRENCY = dict(concurrency_id="report", concurrency_limit=2)
MAX_PICTURES = 8  # pictures from the other tabs, newest first
# (folder of the session, file pattern, caption) of the pictures the other tabs leave behind.
PAGE_PICTURES = [
    ("cam", "cam-overlays.png", "CAM tab: the overlays of the last picture looked at"),
    ("experiments", "*.png", "Experiments tab: {stem}"),
    ("gan-outputs", "walk-*.gif", "GAN tab: a walk through the latent space"),
]
NOTHING_YET = ("Nothing to report yet: train a classifier in the **Train** tab or a GAN in the **GAN** tab "
               "first, then press the button again.")

INTRO = """## Lab report
One click puts your work on this page into **one HTML file** that opens offline, on a phone or on
paper: for every run its curves, confusion matrix, CAM timeline or GAN progress, the model's shape
table, the exact settings and the command line that trains it again. The **zip** holds each run's
metrics (.csv), record (.json) and checkpoints (.safetensors), and the report itself."""


def lab_report(request: gr.Request = None):
    """Write this session's lab report; returns (status line, HTML file, zip file). With no run in the
    session yet, the status says so and the files are left as they were."""
    session = session_for(request)
    runs, training = session_runs(session)
    pictures = page_pictures(session)
    still = f" {plural(training, 'run')} still training for the first time: not in it yet." if training else ""
    if not runs:  # the other tabs' pictures alone are no work: the CAM tab draws one on every page load
        return NOTHING_YET + still, gr.skip(), gr.skip()
    with user_errors():
        report = write_lab_report(runs, session.subfolder("report"), pictures)
    extra = f", {plural(len(pictures), 'picture')} from the other tabs" if pictures else ""
    return f"**Report ready**: {report.summary()}{extra}.{still}", str(report.html), str(report.zip)


def plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def session_runs(session: Session) -> tuple[list[tuple[str, Path]], int]:
    """((name, run folder) of the session's runs that have a record, classifier runs first; the number
    of runs that have none yet because they are still training for the first time)."""
    runs, seen = [], set()
    own = session.folder.resolve()
    classifiers = list(session.runs.values())
    training = sum(run.status == "running" and not (run.files or run.checkpoint) for run in classifiers)
    candidates = [(run.name, run.files.get("record") or run.checkpoint) for run in classifiers]
    for name, path in [*candidates, *list(session.generators.items())]:
        if path is None:
            continue
        folder = Path(path).parent.resolve()
        if folder.is_relative_to(own) and folder not in seen:
            seen.add(folder)
            runs.append((name, folder))
    return runs, training


def page_pictures(session: Session) -> list[tuple[Path, str]]:
    """(path, caption) of the pictures the other tabs left in the session's folder, newest first."""
    found = []
    for folder, pattern, caption in PAGE_PICTURES:
        for path in (session.folder / folder).glob(pattern):
            found.append((path.stat().st_mtime, path, caption.format(stem=path.stem)))
    found.sort(key=lambda item: item[0], reverse=True)
    return [(path, caption) for _, path, caption in found[:MAX_PICTURES]]


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="cnnzoo · report") as demo:
        gr.Markdown(INTRO)
        button = gr.Button("Make my lab report", variant="primary")
        status = gr.Markdown("Press the button when you have trained something.", elem_id="report-status")
        with gr.Row():
            html_file = gr.File(label="lab report (.html, opens offline)", interactive=False, elem_id="report-html")
            zip_file = gr.File(label="metrics, records and checkpoints (.zip)", interactive=False, elem_id="report-zip")
        button.click(lab_report, None, [status, html_file, zip_file], api_name="report", **REPORT_CONCURRENCY)
        page_load(demo)  # this page joins its browser's session: the report is of that session's work
        demo.unload(detach_page)
    return demo


demo = build_demo()

if __name__ == "__main__":
    serve(demo)
