"""The ZeroGPU contract (ui/gpu.py), tested with its forked stand-in on any machine: a GPU call runs
in another process with pickled arguments and results and a duration limit; a run trains in such
calls, chunk by chunk, exactly as it would in one piece; Stop crosses the process boundary; the
app's Train tab works through it; nothing touches CUDA in the app's own process.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from cnnzoo.checkpoints import load_checkpoint
from cnnzoo.gan_trainer import GANConfig, GANTrainer
from cnnzoo.trainer import TrainConfig, Trainer
from tests.conftest import torch_threads
from tests.test_app_train import QUICK, new_client, wait_for
from ui import gpu

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(model="simple_cnn", knobs={"width": 8}, dataset="digits", epochs=2, batch_size=32, train_subset=256,
             lr=0.05, schedule="onecycle", evals_per_epoch=2, logs_per_epoch=4)


def pids(n):
    for _ in range(n):
        yield os.getpid()


def mutate(box: list):
    box.append("changed in the GPU process")
    yield list(box)


def fails():
    yield 1
    raise ValueError("the dataset is missing: put it in ./data")


def sleeps(seconds):
    yield os.getpid()
    time.sleep(seconds)
    yield "never"


def test_a_gpu_call_runs_in_another_process_with_pickled_arguments():
    assert set(gpu.forked(pids, 30, 3)) != {os.getpid()}
    box = ["sent"]
    assert list(gpu.forked(mutate, 30, box)) == [["sent", "changed in the GPU process"]]
    assert box == ["sent"]  # a copy travelled, not the caller's object
    with pytest.raises(TypeError, match="pickle"):  # what ZeroGPU cannot send fails before anything runs
        next(gpu.forked(mutate, 30, threading.Lock()))


def test_a_gpu_calls_error_reaches_the_caller_with_its_message():
    calls = gpu.forked(fails, 30)
    assert next(calls) == 1
    with pytest.raises(ValueError, match="put it in ./data"):
        next(calls)


def test_a_gpu_call_past_its_duration_is_killed():
    calls = gpu.forked(sleeps, 1.0, 30)
    child = next(calls)
    started = time.monotonic()
    with pytest.raises(gpu.GPUAborted, match="aborted"):
        next(calls)
    assert time.monotonic() - started < 5
    with pytest.raises(ProcessLookupError):  # the process is gone
        os.kill(child, 0)


@pytest.fixture
def chunks(monkeypatch):
    """Runs train in GPU calls of `chunk_s` seconds each through the forked stand-in; returns the
    list of the calls' resume_from arguments (None for a run's first call)."""
    calls = []
    original = gpu.train_chunk  # the plain generator: ui.gpu was imported without the stand-in

    def standin(trainer_class, config, resume_from, override, stop_file):
        calls.append(resume_from)
        return gpu.forked(original, 120, trainer_class, config, resume_from, override, stop_file)

    def use(chunk_s: float):
        monkeypatch.setattr(gpu, "CHUNKED", True)
        monkeypatch.setattr(gpu, "CHUNK_S", chunk_s)
        monkeypatch.setattr(gpu, "train_chunk", standin)
        return calls

    return use


def warm_up_openmp():
    """The server computed on two threads before any GPU call forks it (a trace, a CAM)."""
    with torch_threads(2):
        torch.nn.functional.conv2d(torch.randn(64, 16, 32, 32), torch.randn(16, 16, 3, 3)).sum()


def test_a_run_in_chunks_equals_the_run_in_one_piece(chunks, tmp_path):
    warm_up_openmp()
    calls = chunks(0.02)  # the whole run trains for ~0.1 s on a fast CPU: several chunks
    events = list(gpu.GPURun(Trainer, TrainConfig(**SMALL, out_dir=str(tmp_path / "chunked"))).run(threading.Event()))
    with torch_threads(1):  # a GPU call computes on one thread (ui.gpu.train_chunk)
        whole = list(Trainer(TrainConfig(**SMALL, out_dir=str(tmp_path / "whole"))).run(threading.Event()))
    assert len(calls) >= 2 and calls[0] is None and all(c == str(tmp_path / "chunked") for c in calls[1:])
    assert [e.kind for e in events].count("start") == 1 and [e.kind for e in events].count("end") == 1
    assert events[-1].reason == "done" and events[-1].epoch == 2
    evals = lambda history: [x for h in history if h["kind"] == "eval" for x in (h["step"], h["test_loss"], h["test_acc"])]  # noqa: E731
    assert evals(events[-1].history) == pytest.approx(evals(whole[-1].history))
    ends = [h["reason"] for h in events[-1].history if h["kind"] == "end"]
    assert ends == ["time_limit"] * (len(calls) - 1) + ["done"]  # each call's part, as a resumed run records it
    chunked_model, _ = load_checkpoint(events[-1].checkpoint)
    whole_model, _ = load_checkpoint(whole[-1].checkpoint)
    for a, b in zip(chunked_model.state_dict().values(), whole_model.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_the_runs_time_limit_counts_over_all_its_chunks(chunks, tmp_path):
    calls = chunks(0.5)
    config = TrainConfig(**{**SMALL, "epochs": 200}, time_limit_s=1.2, out_dir=str(tmp_path))
    events = list(gpu.GPURun(Trainer, config).run(threading.Event()))
    assert events[-1].reason == "time_limit" and len(calls) == 3  # 0.5 + 0.5 + 0.2 s of training
    assert Path(events[-1].checkpoint).exists()  # resumable


def test_stop_crosses_the_process_boundary(chunks, tmp_path):
    chunks(60)
    stop = threading.Event()
    config = TrainConfig(**{**SMALL, "epochs": 200}, out_dir=str(tmp_path))
    events = gpu.GPURun(Trainer, config).run(stop)
    for event in events:
        if event.kind == "step":
            break
    stop.set()
    pressed = time.monotonic()
    end = [e for e in events if e.kind == "end"][-1]
    assert time.monotonic() - pressed < 5 and end.reason == "stopped" and end.epoch < 200
    resumed = Trainer(resume_from=end.checkpoint, override={"epochs": end.epoch + 1})
    assert resumed.step == end.step  # the checkpoint holds the exact position
    assert not list(Path(gpu._stop_folder()).glob("stop-*"))  # no stop file is left behind


def test_a_gan_trains_in_chunks_and_its_pictures_come_back(chunks, tmp_path):
    calls = chunks(0.5)
    config = GANConfig(model="dcgan", dataset="digits", image_size=32, width=8, steps=60, batch_size=32,
                       sample_every=20, scorer=None, out_dir=str(tmp_path))
    events = list(gpu.GPURun(GANTrainer, config).run(threading.Event()))
    assert len(calls) >= 2 and events[-1].reason == "done" and events[-1].step == 60
    grids = [e.samples for e in events if e.kind == "sample"]
    assert len(grids) >= 3 and all(g.device.type == "cpu" and g.dtype == torch.uint8 for g in grids)
    load_checkpoint(events[-1].checkpoint)


def test_the_train_tab_trains_and_stops_through_gpu_calls(app_url, chunks):
    calls = chunks(0.02)  # the whole run trains for ~0.1 s on a fast CPU: several chunks
    client = new_client(app_url)
    loss, acc, status, *_, files, runs, timeline, legend = client.predict(**QUICK, api_name="/train")
    assert "finished" in status and len(calls) >= 2
    assert max(row[0] for row in loss["data"]) == pytest.approx(3.0)
    load_checkpoint(next(f for f in files if f.endswith(".safetensors")))

    job = client.submit(**{**QUICK, "epochs": 40}, api_name="/train")
    wait_for(job, lambda out: out[0] is not None and len(out[0]["data"]) > 0)
    assert "Stopping" in client.predict(api_name="/stop")
    wait_for(job, lambda out: "stopped" in out[2], timeout=30)
    assert "Resume" in job.result()[2]


def test_the_largest_zoo_checkpoint_is_an_upload_the_app_accepts():
    from cnnzoo.registry import create_model, list_models
    from ui.common import LAUNCH_OPTIONS

    def size_mb(name):
        with torch.device("meta"):
            model = create_model(name)
        return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers())) / 2**20

    largest = max(size_mb(name) for name in list_models())
    assert largest < float(LAUNCH_OPTIONS["max_file_size"].removesuffix("mb")) < 2 * largest


ZEROGPU_PROBE = """
import sys, types, torch
def refuse(*args, **kwargs):
    raise AssertionError("CUDA was initialised in the app's process")
torch.cuda._lazy_init = torch._C._cuda_init = refuse
asked = []
spaces = types.ModuleType("spaces")  # the real one's effects: torch reports a GPU; GPU(duration) wraps
spaces.GPU = lambda duration: (asked.append(duration), lambda fn: fn)[1]
torch.cuda.is_available, torch.cuda.device_count = (lambda: True), (lambda: 1)
sys.modules["spaces"] = spaces
import app
from cnnzoo.compute import pick_device, training_rate
from ui import gpu
training_rate()  # what the Train tab's time estimate measures, in the app's process
print(gpu.CHUNKED, asked == [gpu.DURATION_S], pick_device("auto"))
"""


def test_on_zerogpu_the_app_process_leaves_cuda_alone_and_decorates_its_training():
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", ZEROGPU_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["True", "True", "cpu"]


def test_the_cpu_cores_of_a_space_set_threads_and_training_slots():
    probe = "import ui.common, torch; print(torch.get_num_threads(), ui.common.TRAIN_LIMIT)"
    env = {**os.environ, "CPU_CORES": "1", "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    env.pop("CNNZOO_TRAIN_CONCURRENCY", None)
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["1", "1"], out.stderr[-2000:]


def test_on_shared_pcs_a_students_work_lives_in_the_tab_not_the_browser(open_page, launch, monkeypatch):
    """CNNZOO_SHARED_PCS=1: a reload keeps the page's session; the next student's tab gets another."""
    import gradio as gr

    from ui import sessions

    monkeypatch.setattr(sessions, "IDENTITY_JS", sessions.identity_js("sessionStorage"))
    with gr.Blocks() as demo:
        gr.Markdown("shared PC")
        sessions.page_load(demo)
    url = launch(demo)
    page = open_page(url)
    key_js = "() => sessionStorage.getItem('cnnzoo-identity')"
    page.wait_for_function(key_js)
    key = page.evaluate(key_js)
    deadline = time.monotonic() + 10
    while key not in sessions._sessions and time.monotonic() < deadline:  # attach_page has run
        time.sleep(0.05)
    assert key in sessions._sessions
    assert page.evaluate("() => localStorage.getItem('cnnzoo-identity')") is None  # nothing outlives the tab
    page.reload(wait_until="load")
    page.wait_for_function(key_js)
    assert page.evaluate(key_js) == key  # a reload, a lid, a blip: the same work
    next_student = page.context.new_page()  # the same browser, a new tab
    next_student.goto(url, wait_until="load")
    next_student.wait_for_function(key_js)
    assert next_student.evaluate(key_js) != key
