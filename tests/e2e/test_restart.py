"""A restart keeps every user's App: the server is SIGTERMed and started again on the same
address; the new server adopts the template and its processes, and a page that reconnects
finds its process and its state. Past restart_grace, a server that does not come back ends
them. With each of uvicorn, hypercorn and gunicorn."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from htagweb_asgi.protocol import control
from tests.support.client import Visitor, click, receive, updated_text
from tests.support.servers import (
    Server,
    end_templates,
    our_processes,
    start_server,
    waiting_for_server,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

RESTART_WITHIN = 5.0  # seconds between the old server's end and the new one's first answer
KINDS = ["uvicorn", "hypercorn", "gunicorn"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_restart_within_the_grace_keeps_each_users_process(kind: str, logs: Path) -> None:
    runtime = tempfile.mkdtemp(prefix="hw-")
    env = {"HTAGWEB_RESTART_GRACE": "30"}
    server = start_server(kind, "tests.support.apps.hosts:main", runtime, logs, env=env)
    try:
        visitor = Visitor(server.url)
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
            stopped_at = time.monotonic()
            assert server.stop(signal.SIGTERM) is not None  # the page's websocket still open
            hint = await receive(ws)  # the worker drained: reconnect, after a jitter
            assert 0 <= hint["htagweb"]["reconnect"]["after_ms"] <= 3000, hint
        # nothing listens on the address for a while, as in a real restart
        eventually(lambda: waiting_for_server(runtime), 5, message="the server is not gone")
        restarted = Server(kind, "tests.support.apps.hosts:main", runtime, server.log_path, env=env)
        restarted.sock.close()
        restarted.sock, restarted.port = server.sock, server.port  # the same address
        server = restarted.start()
        assert time.monotonic() - stopped_at < RESTART_WITHIN + 10  # generous: a loaded CI
        async with visitor.websocket(page) as ws:  # the page reconnects, same instance
            assert updated_text(await click(ws, page, "inc")) == ["2"]
        assert (await visitor.page()).pid == page.pid  # no new process, the state kept
        [template] = [t for t in control.listings(runtime) if t["label"].endswith(" /")]
        assert template["workers"] >= 1
        await visitor.aclose()
    finally:
        server.close()
        end_templates(runtime)
        eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
        shutil.rmtree(runtime, ignore_errors=True)


async def test_past_the_grace_a_server_that_does_not_come_back_ends_the_processes(
    logs: Path,
) -> None:
    runtime = tempfile.mkdtemp(prefix="hw-")
    env = {"HTAGWEB_RESTART_GRACE": "2"}
    server = start_server("uvicorn", "tests.support.apps.hosts:main", runtime, logs, env=env)
    try:
        visitor = Visitor(server.url)
        page = await visitor.page()
        await visitor.aclose()
        server.stop(signal.SIGTERM)
        eventually(lambda: waiting_for_server(runtime), 2, message="the server is not gone")
        [template] = waiting_for_server(runtime)
        assert 0 < template["waiting_for_server"] <= 2
        assert [p["pid"] for p in template["processes"]] == [page.pid]
        eventually(lambda: not our_processes(runtime), 10, message="outlived restart_grace")
    finally:
        server.close()
        shutil.rmtree(runtime, ignore_errors=True)
