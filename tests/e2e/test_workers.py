"""Several workers, one user's process: reached from every worker, started once, never
orphaned; killing a worker leaves users alone; killing the server leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import websockets

from htagweb_asgi.protocol import control
from htagweb_asgi.sessions.cookie import Signer
from tests.support.client import Visitor, click, updated_text
from tests.support.pageparse import ParsedPage
from tests.support.servers import Server, our_processes, start_server
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

SECRET = "a test secret that is long enough"
ROOT_APP = "tests.support.apps.counter:App@/"
MULTI = ["gunicorn-4", "uvicorn-4", "hypercorn-4"]


def own_runtime() -> str:
    return tempfile.mkdtemp(prefix="hw-")


def launch(kind: str, runtime: str, logs: Path, *extra: str) -> Server:
    return start_server(
        kind,
        "tests.support.apps.hosts:main",
        runtime,
        logs,
        *extra,
        env={"HTAGWEB_SECRET_KEY": SECRET},
    )


def finish(server: Server, runtime: str) -> None:
    server.close()
    eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="module", params=MULTI)
def multi(request: pytest.FixtureRequest, logs: Path) -> Iterator[tuple[Server, str]]:
    runtime = own_runtime()
    server = launch(request.param, runtime, logs)
    yield server, runtime
    finish(server, runtime)


def root_processes(runtime: str) -> list[dict[str, object]]:
    """The user processes of the root App, as its template lists them."""
    return [
        proc
        for t in control.listings(runtime)
        if t["label"].endswith(" /")
        for proc in t["processes"]
    ]


async def test_one_user_reaches_one_process_from_every_worker(multi: tuple[Server, str]) -> None:
    """20 page loads and 20 websockets, each on a new connection (so spread over workers):
    one pid, the state kept, and several workers holding a lease on the template."""
    server, runtime = multi
    first = Visitor(server.url)
    page = await first.page()
    pids = {page.pid}
    for n in range(1, 21):
        visitor = Visitor(server.url)  # a new connection, the same cookie
        visitor.http.cookies.update(first.http.cookies)
        again = await visitor.page()
        pids.add(again.pid)
        async with visitor.websocket(again) as ws:
            assert updated_text(await click(ws, again, "inc")) == [str(n)]
        await visitor.aclose()
    assert pids == {page.pid}
    workers = [t["workers"] for t in control.listings(runtime) if t["label"].endswith(" /")]
    assert workers and workers[0] >= 2, workers
    await first.aclose()


async def test_concurrent_first_requests_start_exactly_one_process(
    multi: tuple[Server, str],
) -> None:
    server, runtime = multi
    signer = Signer(SECRET.encode())
    session = signer.new_session_id()
    cookie = {"htagweb_session": signer.sign(session)}
    key = signer.process_key(session, ROOT_APP)[:12]
    pids: list[int] = []

    async def first_request() -> None:
        async with httpx.AsyncClient(base_url=server.url, cookies=cookie, timeout=20) as client:
            response = await client.get("/")
            assert response.status_code == 200
            pids.append(ParsedPage.parse(response.text).pid)

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(first_request)
    assert len(set(pids)) == 1
    assert [p["pid"] for p in root_processes(runtime) if p["key"] == key] == pids[:1]


async def test_a_killed_worker_leaves_other_users_alone(multi: tuple[Server, str]) -> None:
    server, _ = multi
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        assert updated_text(await click(ws, page, "inc")) == ["1"]
    workers = server.tree()[1:]
    workers[0].send_signal(signal.SIGKILL)
    for n in (2, 3, 4):  # whichever worker answers now, the user's process is still there
        fresh = Visitor(server.url)
        fresh.http.cookies.update(visitor.http.cookies)
        again = await fresh.page()
        assert again.pid == page.pid
        async with fresh.websocket(again) as ws:
            assert updated_text(await click(ws, again, "inc")) == [str(n)]
        await fresh.aclose()
    await visitor.aclose()


@pytest.mark.parametrize("kind", MULTI)
async def test_sigkill_of_the_whole_server_leaves_nothing_within_5_s(kind: str, logs: Path) -> None:
    runtime = own_runtime()
    server = launch(kind, runtime, logs)
    try:
        for _ in range(3):
            visitor = Visitor(server.url)
            await visitor.page()
            await visitor.aclose()
        assert len(root_processes(runtime)) == 3
        for proc in server.tree():
            proc.send_signal(signal.SIGKILL)
        eventually(
            lambda: not our_processes(runtime),
            5,
            message="user processes outlived a SIGKILLed server",
        )
        eventually(lambda: not ours_left(runtime), 2, message=f"files left: {ours_left(runtime)}")
    finally:
        finish(server, runtime)


def ours_left(runtime: str) -> list[str]:
    """What our templates left in the runtime directory (gunicorn keeps its own files there:
    the test servers' XDG_RUNTIME_DIR)."""
    return [name for name in os.listdir(runtime) if not name.startswith("gunicorn")]


async def test_sigterm_stops_everything_and_removes_the_files(logs: Path) -> None:
    runtime = own_runtime()
    server = launch("hypercorn-4", runtime, logs)
    try:
        for _ in range(3):
            visitor = Visitor(server.url)
            await visitor.page("/")
            await visitor.page("/other")
            await visitor.aclose()
        assert our_processes(runtime)
        assert server.stop(signal.SIGTERM) is not None
        eventually(lambda: not our_processes(runtime), 5, message="processes outlived SIGTERM")
        assert ours_left(runtime) == []  # no socket, lock or directory (the key is in env)
    finally:
        finish(server, runtime)


async def test_worker_restarts_do_not_end_users(logs: Path) -> None:
    """gunicorn --max-requests: workers are replaced while a user keeps clicking. A websocket
    on a retiring worker is closed by gunicorn; the page reconnects (here: the loop retries)
    and finds the same process with the same state."""
    runtime = own_runtime()
    server = launch("gunicorn-4", runtime, logs, "--max-requests", "5", "--preload")
    try:
        user = Visitor(server.url)
        page = await user.page()
        workers_before = {p.pid for p in server.tree()[1:]}
        values: list[int] = []
        for _ in range(15):
            noise = Visitor(server.url)  # other requests, enough to recycle every worker
            for _ in range(3):  # each on its own connection: a retiring worker closes its
                # keep-alive ones, and a browser would retry there where httpx does not
                reply = await noise.http.get("/hello.txt", headers={"connection": "close"})
                assert reply.status_code == 200
            await noise.aclose()
            values.append(await click_surviving_restarts(server, user, page.pid))
        assert values == sorted(set(values)), values  # every click counted once, in order
        assert not workers_before & {p.pid for p in server.tree()[1:]}, "no worker was restarted"
        assert (await user.page()).pid == page.pid
        await user.aclose()
    finally:
        finish(server, runtime)


async def click_surviving_restarts(server: Server, user: Visitor, pid: int) -> int:
    """Load the page and click, on new connections, until a worker answers; return the count."""
    for _ in range(5):
        fresh = Visitor(server.url)
        fresh.http.cookies.update(user.http.cookies)
        try:
            again = await fresh.page()
            assert again.pid == pid
            async with fresh.websocket(again) as ws:
                return int(updated_text(await click(ws, again, "inc"))[0])
        except (websockets.ConnectionClosed, websockets.InvalidHandshake, httpx.TransportError):
            continue  # that worker was retiring (also mid-handshake: no valid HTTP response)
        finally:
            await fresh.aclose()
    raise AssertionError("no worker answered five times in a row")
