"""The integration matrix: each framework on each server as people deploy it, in Chromium.

Every cell is a real server on loopback serving the App under the framework's prefix (the
examples themselves where a framework is involved). The browser opens the prefix without its
slash and lands on the page, clicks and sees the update, receives a push, reloads and keeps
its state; the framework's own route answers beside it. All servers of the selected cells
start together (they are idle while the others are tested) and stop together.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.scenarios import counter_session, hello_session
from tests.support.servers import Server, log_path

pytestmark = pytest.mark.browser

# All servers start at once on a small machine: give the last ones time to import.
FARM_READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class Cell:
    """One framework served by one server: where the App lives, and the framework's route."""

    name: str
    server: str
    app: str
    prefix: str  # the App's mount prefix ("" when served standalone)
    route: str  # a route of the framework itself
    answer: str  # what that route's body contains
    session: Callable[[Page], None] = hello_session


STANDALONE = "tests.support.apps.hosts:main"
FASTAPI = "examples.fastapi.app:app"
DJANGO = "examples.django.asgi:application"
CHANNELS = "examples.django.asgi_channels:application"
QUART = "examples.quart.app:app"
QUART_TRIO = "examples.quart.app:trio_app"
LITESTAR = "examples.litestar.app:app"

CELLS = [
    *(
        Cell(f"standalone-{kind}", kind, STANDALONE, "", "/hello.txt", "hello", counter_session)
        for kind in ("hypercorn", "hypercorn-trio", "uvicorn", "granian", "daphne")
    ),
    *(
        Cell(f"fastapi-{kind}", kind, FASTAPI, "/ui", "/api/time", '"time"')
        for kind in ("hypercorn", "uvicorn", "gunicorn")
    ),
    Cell("django-uvicorn", "uvicorn", DJANGO, "/ui", "/api/time", '"time"'),
    Cell("channels-daphne", "daphne", CHANNELS, "/ui", "/api/time", '"time"'),
    Cell("channels-uvicorn", "uvicorn", CHANNELS, "/ui", "/api/time", '"time"'),
    Cell("quart-hypercorn", "hypercorn", QUART, "/ui", "/api/time", '"time"'),
    Cell("quart-hypercorn-trio", "hypercorn-trio", QUART_TRIO, "/ui", "/api/time", '"time"'),
    Cell("litestar-uvicorn", "uvicorn", LITESTAR, "/ui", "/api/time", '"time"'),
    Cell("litestar-granian", "granian", LITESTAR, "/ui", "/api/time", '"time"'),
]


def _selected(session: pytest.Session) -> list[Cell]:
    """The cells this run will test (after -k and the like), in matrix order."""
    chosen = {
        item.callspec.params["cell"]
        for item in session.items
        if hasattr(item, "callspec") and "cell" in item.callspec.params
    }
    return [cell for cell in CELLS if cell in chosen]


@pytest.fixture(scope="module")
def farm(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[dict[Cell, Server]]:
    """Start the selected cells' servers together; a cell that does not start fails alone."""
    servers = {
        cell: Server(cell.server, cell.app, runtime, log_path(logs, cell.name, cell.app))
        for cell in _selected(request.session)
    }  # every port is taken before granian lets its own go and binds it again
    for server in servers.values():
        server.spawn()
    try:
        for cell, server in servers.items():
            with suppress(AssertionError, TimeoutError):  # the cell's test reports it, with the log
                server.wait_ready(cell.route, timeout=FARM_READY_TIMEOUT)
        yield servers
    finally:
        for server in servers.values():  # all at once: stopping takes a moment each
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in servers.values():
            server.close()


@contextmanager
def server_log_on_failure(server: Server) -> Iterator[None]:
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- {server.kind} log ---\n{server.log()[-6000:]}") from exc


def websocket_refusal(url: str, origin: str) -> int:
    """Open a websocket the host must refuse; return the HTTP status the client got."""
    try:
        with connect(url, open_timeout=10, additional_headers={"origin": origin}):
            pass
    except InvalidStatus as exc:
        return exc.response.status_code
    raise AssertionError(f"{url} was accepted")


@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_cell(cell: Cell, farm: dict[Cell, Server], page: Page) -> None:
    server = farm[cell]
    with server_log_on_failure(server):
        assert server.process is not None and server.process.poll() is None, "server died"
        page.goto(server.url + (cell.prefix or "/"))
        assert page.url == server.url + cell.prefix + "/"  # the mount point redirects to slash
        cell.session(page)
        response = httpx.get(server.url + cell.route, timeout=10)
        assert response.status_code == 200 and cell.answer in response.text
        # a denial response where the server offers one, else a close (403); daphne would
        # hang on an unoffered denial response
        ws_url = server.url.replace("http://", "ws://") + cell.prefix + "/nowhere/_/ws"
        assert websocket_refusal(ws_url, server.url) in (403, 404)
