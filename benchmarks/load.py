"""A class's load on one server (issue #11 part 5): `python app.py` in its own process, driven
over HTTP by simulated students, each with their own gradio_client session.

(a) The class model: STUDENTS students for --seconds; each thinks 3-8 s between clicks and then
    traces a model (Shapes), asks for a CAM of a random test image, samples the shipped GAN or
    walks between two of its samples; TRAINERS of them press Train with the Train tab's defaults
    instead, again and again. Prints requests, failures, p50 and p95 seconds per endpoint.
    Target on 2 CPU cores: no failures, p95 <= 1 s for every light endpoint.
(b) Closed loop: CLOSED clients send light requests back to back for --closed-seconds: requests/s.

    python benchmarks/load.py                  # the class model (90 s) and the closed loop (20 s)
    python benchmarks/load.py --seconds 30     # shorter

A student's time is measured as gradio_client sees it: queueing, the handler, the reply and its
files. The simulated students run on this machine too, and gradio_client is not light: the CPU
line says how the cores were shared (on 2 cores with no one training, measured half and half).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
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


def light_request(client, rng: random.Random) -> str:
    """One click of a student who is looking, not training; returns the endpoint's name."""
    kind = rng.choice(["trace", "cam_random_example", "gan_sample", "interpolate"])
    if kind == "trace":
        client.predict(model_name=rng.choice(TRACED), api_name="/trace")
    elif kind == "cam_random_example":
        client.predict(model=CAM_MODEL, threshold=0.5, api_name="/cam_random_example")
    elif kind == "gan_sample":
        client.predict(GAN, rng.randrange(20), 8, api_name="/gan_sample")
    else:
        start, end = rng.randrange(20), rng.randrange(20)
        client.predict(GAN, start, rng.randrange(64), end, rng.randrange(64), 8, "slerp", 16, api_name="/interpolate")
    return kind


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(url: str, n: int) -> list:
    from gradio_client import Client

    with ThreadPoolExecutor(6) as pool:  # each fetches the page's config, as a browser does
        return list(pool.map(lambda _: Client(url, analytics_enabled=False, verbose=False,
                                              httpx_kwargs={"timeout": 120}), range(n)))


def class_model(url: str, seconds: float, trainers: int = TRAINERS, seed: int = 0) -> dict[str, list[tuple[float, bool]]]:
    """{endpoint: [(seconds, ok)]} of STUDENTS students for `seconds`, `trainers` of them training."""
    clients = connect(url, STUDENTS)
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
                    client.predict(api_name="/train")  # the Train tab's defaults
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
    clients = connect(url, CLOSED)
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
    args = parser.parse_args()
    print(f"cpu_cores: {os.cpu_count()}")
    with served_app() as (url, server):
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
