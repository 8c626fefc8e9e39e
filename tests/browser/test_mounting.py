"""Mounted under a prefix: FastAPI mount, and standalone servers with --root-path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import Server, start_server


@pytest.fixture(scope="module", params=["hypercorn", "uvicorn"])
def fastapi_server(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server(
        request.param, "tests.support.apps.fastapi_host:app", runtime, logs, ready="/api/status"
    )
    yield running
    running.close()


@pytest.mark.browser
def test_fastapi_mount_in_the_browser(fastapi_server: Server, page: Page) -> None:
    """HtagASGI at /ui beside a FastAPI JSON route: both work; the page finds its URLs."""
    page.goto(fastapi_server.url + "/ui")  # Starlette redirects to /ui/
    assert page.url.endswith("/ui/")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".push")
    expect(page.locator(".pushed")).to_have_text("3")
    page.reload()
    expect(page.locator(".value")).to_have_text("1")
    assert httpx.get(fastapi_server.url + "/api/status").json() == {"status": "ok"}


@pytest.mark.browser
def test_hypercorn_root_path_in_the_browser(runtime: str, logs: Path, page: Page) -> None:
    """hypercorn --root-path /ui (the proxy keeps the prefix): pages live under /ui/."""
    server = start_server(
        "hypercorn",
        "tests.support.apps.hosts:main",
        runtime,
        logs,
        "--root-path",
        "/ui",
        ready="/ui/hello.txt",
    )
    try:
        page.goto(server.url + "/ui/")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
        page.goto(server.url + "/ui/other")
        page.click(".inc")
        expect(page.locator(".value")).to_have_text("1")
    finally:
        server.close()
