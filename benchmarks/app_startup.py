"""Seconds from launching `python app.py` to the page being served (HTTP 200 on /).

Starts the app three times on a free port (GRADIO_SERVER_PORT), polls / until it answers
200, kills the server, and prints `name: value` lines with the median wall time last.

    python benchmarks/app_startup.py
"""
from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
GIVE_UP_S = 180

# No proxy for 127.0.0.1, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app():
    """`python app.py` on a free port of 127.0.0.1, from its first served page (HTTP 200 on /)
    until the block ends, when it is killed: yields (its URL, its pid)."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server never blocks on it
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        while time.perf_counter() - start < GIVE_UP_S:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited with {server.returncode}:\n{log.read().decode()}")
            try:
                with _OPENER.open(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        else:
            raise TimeoutError(f"app.py did not serve / within {GIVE_UP_S} s")
        yield url, server.pid
    finally:
        server.kill()
        server.wait()
        log.close()


def seconds_to_first_page() -> tuple[float, float]:
    """(wall seconds until / answers 200, CPU seconds the server process used until then)."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with served_app():
        wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server, killed and waited for
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return wall, cpu


def main():
    runs = [seconds_to_first_page() for _ in range(RUNS)]
    print(f"app_startup_runs_s: {', '.join(f'{wall:.2f}' for wall, _ in runs)}")
    # CPU time of the server until the page was served: the work itself, whatever else
    # is running on the machine (the wall time swings with other jobs' load).
    print(f"app_startup_server_cpu_median_s: {statistics.median(cpu for _, cpu in runs):.2f}")
    print(f"app_startup_median_s: {statistics.median(wall for wall, _ in runs):.2f}")


if __name__ == "__main__":
    main()
