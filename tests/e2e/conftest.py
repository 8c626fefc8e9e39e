"""Fixtures for end-to-end tests: real servers on loopback, a per-run runtime directory."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.servers import Server, our_processes, wait_until

ALL_SERVERS = ["hypercorn", "hypercorn-trio", "uvicorn", "uvicorn-uvloop"]


@pytest.fixture(scope="session")
def runtime() -> Iterator[str]:
    """A private runtime directory for this run (short: unix socket paths are limited)."""
    directory = tempfile.mkdtemp(prefix="hw-")
    yield directory
    wait_until(lambda: not our_processes(directory), 10, message="processes left behind")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


def log_path(logs: Path, kind: str, app: str) -> Path:
    """A new log file for a server of `kind` serving `app`."""
    return logs / f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '_', app)}-{len(list(logs.iterdir()))}.log"


def start_server(
    kind: str,
    app: str,
    runtime: str,
    logs: Path,
    *extra: str,
    ready: str = "/hello.txt",
    env: dict[str, str] | None = None,
) -> Server:
    return Server(kind, app, runtime, log_path(logs, kind, app), extra, env or {}).start(ready)


@pytest.fixture(scope="module", params=ALL_SERVERS)
def server(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    """tests.apps.hosts:main served by each kind of server in turn."""
    running = start_server(request.param, "tests.apps.hosts:main", runtime, logs)
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module; each test opens its own context.

    Playwright's sync API keeps an event loop running in this thread while it is open, so
    browser tests and async (anyio) tests live in different modules.
    """
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (its own cookies) and page; console errors are kept."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the clients (websockets) are asyncio; the servers run both
