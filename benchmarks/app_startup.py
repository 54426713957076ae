"""Seconds from launching `python app.py` to the page being served (HTTP 200 on /).

Starts the app three times on a free port (GRADIO_SERVER_PORT), polls / until it answers
200, kills the server, and prints `name: value` lines with the median last.

    python benchmarks/app_startup.py
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def seconds_to_first_page() -> float:
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while time.perf_counter() - start < GIVE_UP_S:
            if server.poll() is not None:
                raise RuntimeError(f"app.py exited with {server.returncode}:\n{server.stderr.read().decode()}")
            try:
                with _OPENER.open(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"app.py did not serve / within {GIVE_UP_S} s")
    finally:
        server.kill()
        server.wait()


def main():
    runs = [seconds_to_first_page() for _ in range(RUNS)]
    print(f"app_startup_runs_s: {', '.join(f'{r:.2f}' for r in runs)}")
    print(f"app_startup_median_s: {statistics.median(runs):.2f}")


if __name__ == "__main__":
    main()
