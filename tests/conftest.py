"""Shared fixtures: a real server on a free 127.0.0.1 port, a real client, a real browser.

    def test_x(client): client.predict(..., api_name="/trace")       # gradio_client on app.demo
    def test_y(page): page.get_by_label("network")...                # Chromium on app.demo
    def test_z(launch): url = launch(my_blocks)                      # any other Blocks

Browser tests skip when /usr/bin/chromium (or $CNNZOO_CHROMIUM) or playwright is missing,
unless CNNZOO_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

# `import app` / `import ui` work however pytest is started (python -m pytest adds the cwd, pytest does not).
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Before gradio is imported anywhere: no telemetry or version checks from the test suite.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# As the app's server does (ui/__init__.py), before torch loads: tests run servers in-process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import contextlib  # noqa: E402

import pytest  # noqa: E402

CHROMIUM = os.environ.get("CNNZOO_CHROMIUM", "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def torch_threads(n: int):
    """torch on n threads inside the block, as before afterwards. Tiny nets gain nothing from a
    second thread, and on a 2-core CPU shared with other jobs two spinning OpenMP threads made
    tiny GAN steps ~50× slower (13 ms vs ~1 s) and tests/test_models.py 142 s instead of 25 s."""
    import torch  # here, not at the top: OMP_WAIT_POLICY above must be set before torch loads

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    """The test runs torch on one thread (see torch_threads)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def launch():
    """launch(blocks) -> URL of `blocks` served on 127.0.0.1; every server closes at the end."""
    from ui.common import LAUNCH_OPTIONS, QUEUE_MAX_SIZE

    launched = []

    def _launch(blocks) -> str:
        blocks.queue(max_size=QUEUE_MAX_SIZE)
        _, url, _ = blocks.launch(
            server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
            **LAUNCH_OPTIONS,
        )  # fmt: skip
        launched.append(blocks)
        return url

    yield _launch
    for blocks in launched:
        blocks.close()


@pytest.fixture(scope="session")
def app_url(launch) -> str:
    """The whole app (app.demo), served once for the session."""
    import app

    return launch(app.demo)


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, analytics_enabled=False, verbose=False)


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by playwright (its own browser downloads are offline)."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CNNZOO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CNNZOO_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """open_page(url) -> a loaded page; page.requested_hosts lists every host it contacted,
    page.console_errors what its console said in red (errors and uncaught exceptions)."""
    contexts = []

    def _open(url: str, width: int = 1400, height: int = 1000, locale: str = "en-US"):
        # the browser's language picks the page's (ui.i18n): English unless a test asks
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.requested_hosts = set()
        page.on("request", lambda request: page.requested_hosts.add(urlparse(request.url).hostname))
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        page.goto(url, wait_until="load")
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page, app_url):
    """The app, loaded in a fresh browser context."""
    return open_page(app_url)


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where browser tests save screenshots: $CNNZOO_SCREENSHOT_DIR if set, else tmp_path."""
    directory = Path(os.environ.get("CNNZOO_SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
