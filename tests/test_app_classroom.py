"""A class of thirty presses Train at the same moment: everyone's run finishes, each in its own
session, and light requests (the calculator, Stop) answer at once while training queues."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

STUDENTS = 30
TINY = dict(model_name="simple_cnn", width=8, dataset="digits", epochs=1, batch_size=32, train_subset=64)


def test_thirty_students_train_at_once(app_url):
    with ThreadPoolExecutor(STUDENTS) as pool:
        # httpx's 5 s default is the client's: thirty page configs (~430 kB each) served at once in
        # this process, beside thirty clients parsing them, take longer. A browser waits.
        clients = list(pool.map(lambda _: Client(app_url, analytics_enabled=False, verbose=False,
                                                 httpx_kwargs={"timeout": 60}), range(STUDENTS)))
    jobs = [c.submit(**TINY, api_name="/train") for c in clients]

    # While the training queue is full, light requests are not stuck behind it.
    observer = Client(app_url, analytics_enabled=False, verbose=False)
    started = time.monotonic()
    observer.predict(192, 32, 5, 16, 28, 28, api_name="/reduction")
    assert observer.predict(api_name="/stop") == "Nothing is training in this session."
    assert time.monotonic() - started < 5, "a light request waited behind training"

    results = [job.result(timeout=600) for job in jobs]
    for loss, acc, status, confusion, gallery, files, runs, timeline, legend in results:
        assert "finished" in status
        assert runs["value"] == ["simple_cnn · digits #1"]  # each student sees only their own run
    # On the server (same process): thirty sessions, each with its own run folder and checkpoint.
    from ui.sessions import _sessions

    own = [s for s in list(_sessions.values()) if any(c.session_hash == s.key for c in clients)]
    assert len(own) == STUDENTS
    folders = {run_dir for s in own for run_dir in s.folder.iterdir()}
    assert len(folders) == STUDENTS and all((f / "last.safetensors").exists() for f in folders)


def test_a_shared_pc_keeps_no_run_history(app_url):
    """Gradio's run history (every call's inputs, listed under "Runs" in the footer) is off: on a
    classroom PC the next student would read the last one's. GRADIO_RUN_HISTORY=true turns it on."""
    import httpx

    config = httpx.get(f"{app_url.rstrip('/')}/config", timeout=60).json()
    assert config["run_history"] is False


def test_every_click_of_the_load_benchmark_is_answered(app_url):
    """benchmarks/load.py's students click what the app serves (its tiny version: one click of each
    kind, through a real client); the benchmark itself times thirty of them."""
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import load

    student = load.Student(app_url, load.Student.endpoints_of(app_url))  # gradio's REST API, one session
    rng, seen = random.Random(0), set()
    while len(seen) < 4:
        seen.add(load.light_request(student, rng))
    assert seen == {"trace", "cam_random_example", "gan_sample", "interpolate"}
    table, totals, figure = student.call("trace", model_name="resnet20")  # the answer itself, by name
    assert "269,722" in totals and figure["type"] == "matplotlib"
    with pytest.raises(RuntimeError, match="6n \+ 2") as refused:  # a refusal is a failure, named
        student.call("trace", model_name="resnet_cifar", depth=21)
    assert refused.value.endpoint == "trace"
