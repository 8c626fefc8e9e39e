"""A user process that stops while pages are connected: its connections end quietly.

On Python 3.11 and 3.12, asyncio logs a traceback ("Exception in callback ...
CancelledError") for every connection task of ``start_unix_server`` that ends cancelled: a
template that dies, or a server that stops, made every user process with an open page log
one. In-process, with a real unix socket; asyncio only (user processes run asyncio).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

import pytest

from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.engine import engine
from htagweb_asgi.proc.user import Connection, UserApp
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.config import ProcessSettings
from htagweb_asgi.protocol.frames import HEADER_SIZE, Kind, encode_json, parse_header
from tests.support.apps.counter import App

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_stopping_with_pages_connected_logs_nothing() -> None:
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    settings = ProcessSettings(debug=False, max_frame=1 << 20)
    app = UserApp(App, settings, ActivityBoard(1), 0, engine())
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "user.sock")
        server = await asyncio.start_unix_server(app.serve_connection, path=path)
        first = await asyncio.open_unix_connection(path)  # before the App exists
        second = await asyncio.open_unix_connection(path)  # its page rendered
        for reader, _ in (first, second):
            kind, size = parse_header(await reader.readexactly(HEADER_SIZE))
            assert kind is Kind.HELLO
            await reader.readexactly(size)
        second[1].write(encode_json(Kind.PAGE, {"init": [[], {}]}))
        kind, _ = parse_header(await second[0].readexactly(HEADER_SIZE), 1 << 20)
        assert kind is Kind.HTML
        app.stopped.set()  # as the signals and the liveness pipe do
        server.close()
        await app.close()
        for _, writer in (first, second):
            writer.close()
    assert [context["message"] for context in errors] == []


class ClosedByPeer:
    """A connection's writer on uvloop once its peer closed: a write raises RuntimeError
    (asyncio's would drop the bytes)."""

    def __init__(self) -> None:
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def write(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError("unable to perform operation on <UnixTransport closed=True>")

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


async def test_ending_skips_a_connection_whose_host_just_left() -> None:
    """The process ends (tag.exit(), an END from its template) and tells each connection
    why; one of them was closed by its worker meanwhile (uvloop closed its transport): that
    one is skipped, not a "Task exception was never retrieved" traceback in the log."""
    settings = ProcessSettings(debug=False, max_frame=1 << 20)
    app = UserApp(App, settings, ActivityBoard(1), 0, engine())
    left, staying = ClosedByPeer(), ClosedByPeer()
    left.close()
    for writer in (left, staying):
        app.connections.add(Connection(asyncio.StreamReader(), writer))  # type: ignore[arg-type]
    await app.end(Close.EXITED, "the application exited")
    assert app.stopped.is_set()
