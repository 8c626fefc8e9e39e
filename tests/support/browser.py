"""Headless Debian Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.support.servers import start_server
from tests.support.tcpproxy import TcpProxy

CHROMIUM = os.environ.get("HTAGWEB_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, which this closed
# network refuses; the others make a quiet, reproducible headless browser.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    """Debian's Chromium, headless, with the flags above (and `extra_args`)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args]
        )
        yield browser
        browser.close()


@contextlib.contextmanager
def behind_proxy(kind: str, app: str, runtime: str, logs: Path) -> Iterator[TcpProxy]:
    """A real server of `app` reached through a TcpProxy that a test may cut."""
    server = start_server(kind, app, runtime, logs)
    running = TcpProxy(server.port).start()
    yield running
    running.stop()
    server.close()


@contextlib.contextmanager
def proxied_context(browser: Browser, proxy: TcpProxy) -> Iterator[BrowserContext]:
    """A fresh browser context (its own cookies) with the proxy letting websockets through."""
    proxy.refuse_websockets = False
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()
