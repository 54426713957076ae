"""A run's metrics in the trackers the seeds' readers use: TensorBoard and Trackio.

    trackers = Trackers(tensorboard="runs/r20/tensorboard", trackio="cnnzoo", name="r20", config=config.to_dict())
    for event in trainer.run(stop):
        trackers.update(event)
    trackers.close()

What a tracker receives is exactly metrics.csv: every record the run adds to its history (one CSV
row) gives its numbers under the CSV's column names ("train_loss", "test_acc", "lr", ...) at the
record's step. A resumed run continues its curves: the records of its earlier parts, already in
the history at the start, are not sent again. Text columns (kind, device, message) and empty
cells are left out; a tracker plots numbers.

Both packages are an optional extra (`pip install -r requirements-trackers.txt`), never a
dependency of the app: asking for one that is not installed is a ValueError saying how to get it.
TensorBoard: `tensorboard --logdir <folder>`. Trackio (Gradio's local-first tracker) keeps its
projects in $TRACKIO_DIR (default ~/.cache/huggingface/trackio): `trackio show --project <name>`.
"""
from __future__ import annotations

from pathlib import Path

INSTALL = "pip install -r requirements-trackers.txt"


def record_numbers(record: dict) -> dict[str, float]:
    """The numbers of one history record (one metrics.csv row) but its step, the x axis."""
    return {name: float(value) for name, value in record.items()
            if name != "step" and isinstance(value, (int, float)) and not isinstance(value, bool)}


class TensorBoardSink:
    """Scalars in a TensorBoard event file under `folder` (torch.utils.tensorboard's writer)."""

    def __init__(self, folder: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError(f"TensorBoard logging needs the tensorboard package: {INSTALL}") from None
        self.folder = Path(folder)
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def log(self, step: int, numbers: dict[str, float]) -> None:
        for tag, value in numbers.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def close(self) -> None:
        self.writer.close()


class TrackioSink:
    """One Trackio run (continued when a run of that name exists: a resumed training run)."""

    def __init__(self, project: str, name: str, config: dict):
        try:
            import trackio
        except ImportError:
            raise ValueError(f"Trackio logging needs the trackio package: {INSTALL}") from None
        self.run = trackio.init(project=project, name=name, config=config, resume="allow",
                                auto_log_gpu=False, auto_log_cpu=False)

    def log(self, step: int, numbers: dict[str, float]) -> None:
        self.run.log(numbers, step=step)

    def close(self) -> None:
        self.run.finish()


class Trackers:
    """The trackers asked for (none, one or both), fed from a run's events."""

    def __init__(self, *, tensorboard: str | Path | None = None, trackio: str | None = None,
                 name: str = "run", config: dict | None = None):
        self.sinks = []
        if tensorboard:
            self.sinks.append(TensorBoardSink(tensorboard))
        if trackio:
            self.sinks.append(TrackioSink(trackio, name, config or {}))
        self.sent: int | None = None  # history records already sent

    def update(self, event) -> None:
        """Send the history records added since the last event (the first event: none of the
        records it starts with, which belong to the run's earlier parts)."""
        history = event.history or []
        if self.sent is None:
            self.sent = len(history) if event.kind == "start" else 0
        for record in history[self.sent:]:
            for sink in self.sinks:
                sink.log(record["step"], record_numbers(record))
        self.sent = len(history)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
