"""A class's load on one server (issue #11 part 5): `python app.py` in its own process, driven
over HTTP by simulated students, each a plain HTTP client of gradio's REST API (Student).

Before class the teacher opens each page once (before_class: every traced network, a CAM, a
sample, a walk), so no student waits for a model to load or a network's first trace.

(a) The class model: STUDENTS students for --seconds; each thinks 3-8 s between clicks and then
    traces a model (Shapes), asks for a CAM of a random test image, samples the shipped GAN or
    walks between two of its samples; TRAINERS of them press Train with the Train tab's defaults
    instead, again and again. Prints requests, failures, p50 and p95 seconds per endpoint.
    Target on 2 CPU cores: no failures, p95 <= 1 s for every light endpoint.
(b) Closed loop: CLOSED clients send light requests back to back for --closed-seconds: requests/s.

    python benchmarks/load.py                  # the class model (90 s) and the closed loop (20 s)
    python benchmarks/load.py --seconds 30     # shorter
    python benchmarks/load.py --cold           # nobody opened the pages before class

A student's time is what the page waits: queueing, the handler, the reply and its pictures'
download. The simulated students run on this machine too: the CPU line says how the cores were
shared. (With gradio_client as the students, they took as much CPU as the server.)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app_startup import served_app  # one way to start the app and wait for its page

STUDENTS, TRAINERS, CLOSED = 30, 2, 8
THINK_S = (3.0, 8.0)
TARGET_P95_S = 1.0
GAN = "shipped:dcgan-digits.safetensors"
CAM_MODEL = "shipped:simple-shapes-cam.safetensors"  # ui.cam_models.DEFAULT_CHECKPOINT
TRACED = ["resnet20", "resnet56", "simple_cnn", "densenet_bc_100_k12", "wide_resnet16_4", "resnet50_imagenet",
          "vgg16", "googlenet_small"]  # the Shapes tab's choices, with its default knobs


class Student:
    """One simulated student: a plain HTTP client of gradio's own REST API (POST /call/<api>, then
    the event's server-sent stream) that keeps one session as a browser's page does, and fetches
    the pictures of each answer as the page would. It costs the machine a small part of what a
    gradio_client costs (gradio_client fetches the page's config and runs its own threads), so the
    figure measures the server, not the clients. The session matters: gradio builds a session's
    state from every component of the app (~25 ms of CPU here), once per page in a browser but
    once per call for a client without one (gradio_client's v2 calls, measured with py-spy)."""

    def __init__(self, url: str, endpoints: dict):
        import httpx  # gradio's own dependency

        self.url, self.http, self.endpoints = url.rstrip("/"), httpx.Client(timeout=300), endpoints
        self.session_hash = uuid.uuid4().hex[:11]

    @staticmethod
    def endpoints_of(url: str) -> dict:
        """{api_name: its parameters} of the app at `url` (gradio's /info, read once for a class)."""
        import httpx

        info = httpx.get(f"{url.rstrip('/')}/gradio_api/info", timeout=60).raise_for_status().json()
        return {name.lstrip("/"): endpoint["parameters"] for name, endpoint in info["named_endpoints"].items()}

    def call(self, api_name: str, **parameters):
        """The endpoint's answer (its outputs' list). Any failure raises, its .endpoint the api_name."""
        try:
            return self._call(api_name, parameters)
        except Exception as error:
            error.endpoint = api_name
            raise

    def _call(self, api_name: str, parameters: dict):
        from gradio_client.utils import construct_args  # named parameters in the endpoint's order

        data = construct_args(self.endpoints[api_name], (), parameters)
        posted = self.http.post(f"{self.url}/gradio_api/call/{api_name}",
                                json={"data": data, "session_hash": self.session_hash})
        posted.raise_for_status()
        event = None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api_name}/{posted.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line.split(":", 1)[1])
                    if event == "error":
                        raise RuntimeError(f"/{api_name}: {data}")
                    self.fetch_files(data)
                    return data
        raise RuntimeError(f"/{api_name}: the stream ended without an answer")

    def fetch_files(self, value) -> None:
        """Download every file an answer names, as the page's <img> tags would."""
        if isinstance(value, dict):
            if isinstance(value.get("url"), str):
                self.http.get(value["url"]).raise_for_status()
            for item in value.values():
                self.fetch_files(item)
        elif isinstance(value, list):
            for item in value:
                self.fetch_files(item)


def light_request(student: Student, rng: random.Random) -> str:
    """One click of a student who is looking, not training; returns the endpoint's name."""
    kind = rng.choice(["trace", "cam_random_example", "gan_sample", "interpolate"])
    if kind == "trace":
        student.call("trace", model_name=rng.choice(TRACED))
    elif kind == "cam_random_example":
        student.call("cam_random_example", model=CAM_MODEL, threshold=0.5)
    elif kind == "gan_sample":
        student.call("gan_sample", generator=GAN, seed=rng.randrange(20), grid_side=8)
    else:
        student.call("interpolate", generator=GAN, start_seed=rng.randrange(20), start_sample=rng.randrange(64),
                     end_seed=rng.randrange(20), end_sample=rng.randrange(64), grid_side=8, mode="slerp",
                     num_frames=16)
    return kind


def before_class(url: str) -> None:
    """What a teacher does before class: open each page once (every traced network, a CAM, a
    sample, a walk), so the first student does not wait for a model to load or a trace to be made."""
    teacher = Student(url, Student.endpoints_of(url))
    for model_name in TRACED:
        teacher.call("trace", model_name=model_name)
    teacher.call("cam_random_example", model=CAM_MODEL, threshold=0.5)
    teacher.call("gan_sample", generator=GAN, seed=0, grid_side=8)
    teacher.call("interpolate", generator=GAN, start_seed=0, start_sample=0, end_seed=1, end_sample=0, grid_side=8,
                 mode="slerp", num_frames=16)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def class_model(url: str, seconds: float, trainers: int = TRAINERS, seed: int = 0) -> dict[str, list[tuple[float, bool]]]:
    """{endpoint: [(seconds, ok)]} of STUDENTS students for `seconds`, `trainers` of them training."""
    endpoints = Student.endpoints_of(url)
    clients = [Student(url, endpoints) for _ in range(STUDENTS)]
    timings: dict[str, list[tuple[float, bool]]] = {}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def student(index: int):
        rng = random.Random(seed * 1000 + index)
        client = clients[index]
        time.sleep(rng.uniform(0, THINK_S[1]))  # a class does not click in step
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                if index < trainers:
                    client.call("train")  # the Train tab's defaults
                    kind = "train"
                else:
                    kind = light_request(client, rng)
                ok = True
            except Exception as error:  # a failed request is counted, and the student goes on
                kind, ok = getattr(error, "endpoint", None) or "failed", False
                print(f"student {index}: {type(error).__name__}: {error}", file=sys.stderr)
            with lock:
                timings.setdefault(kind, []).append((time.perf_counter() - started, ok))
            if index >= trainers:
                time.sleep(rng.uniform(*THINK_S))

    threads = [threading.Thread(target=student, args=(i,)) for i in range(STUDENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def closed_loop(url: str, seconds: float) -> float:
    """Requests per second of CLOSED clients sending light requests back to back."""
    endpoints = Student.endpoints_of(url)
    clients = [Student(url, endpoints) for _ in range(CLOSED)]
    done = [0] * CLOSED
    end = time.monotonic() + seconds

    def hammer(index: int):
        rng = random.Random(index)
        while time.monotonic() < end:
            light_request(clients[index], rng)
            done[index] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(CLOSED) as pool:
        list(pool.map(hammer, range(CLOSED)))
    return sum(done) / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90, help="length of the class model (a)")
    parser.add_argument("--closed-seconds", type=float, default=20, help="length of the closed loop (b)")
    parser.add_argument("--trainers", type=int, default=TRAINERS, help="students who train (the rest look)")
    parser.add_argument("--cold", action="store_true", help="no teacher before class: the first students wait for "
                                                            "the models to load and the networks' first traces")
    args = parser.parse_args()
    print(f"cpu_cores: {os.cpu_count()}")
    with served_app() as (url, server):
        if not args.cold:
            started = time.perf_counter()
            before_class(url)
            print(f"before class (each page opened once): {time.perf_counter() - started:.1f} s")
        before = cpu_seconds(server), time.process_time()
        timings = class_model(url, args.seconds, args.trainers)
        # The students' clients run on this machine too: what they cost is CPU the server lacked.
        print(f"CPU seconds during (a): server {cpu_seconds(server) - before[0]:.0f}, the simulated students "
              f"{time.process_time() - before[1]:.0f}, of {os.cpu_count() * args.seconds:.0f} on {os.cpu_count()} cores")
        print(f"(a) {STUDENTS} students ({args.trainers} training), {THINK_S[0]:g}-{THINK_S[1]:g} s of thought, "
              f"{args.seconds:g} s")
        print(f"{'endpoint':<20}{'requests':>9}{'failures':>9}{'p50 s':>8}{'p95 s':>8}")
        verdicts = []
        for kind, rows in sorted(timings.items()):
            times = [t for t, ok in rows if ok]
            failures = sum(not ok for _, ok in rows)
            p50, p95 = (percentile(times, 50), percentile(times, 95)) if times else (float("nan"),) * 2
            print(f"{kind:<20}{len(rows):>9}{failures:>9}{p50:>8.2f}{p95:>8.2f}")
            if kind != "train":
                verdicts.append(failures == 0 and p95 <= TARGET_P95_S)
        print(f"target (no failures, p95 <= {TARGET_P95_S:g} s for every light endpoint): "
              f"{'met' if verdicts and all(verdicts) else 'NOT met'}")
        print(f"(b) closed loop, {CLOSED} clients, {args.closed_seconds:g} s: "
              f"{closed_loop(url, args.closed_seconds):.1f} requests/s")


if __name__ == "__main__":
    main()
