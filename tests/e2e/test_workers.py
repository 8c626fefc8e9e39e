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
import psutil
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
RESPAWNING = ["gunicorn-4", "uvicorn-4"]  # servers that replace a worker that died


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
    async with Visitor(server.url) as first:
        page = await first.page()
        pids = {page.pid}
        for n in range(1, 21):
            async with first.new_connection() as visitor:
                again = await visitor.page()
                pids.add(again.pid)
                async with visitor.websocket(again) as ws:
                    assert updated_text(await click(ws, again, "inc")) == [str(n)]
    assert pids == {page.pid}
    assert root_leases(runtime) >= 2


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


def root_leases(runtime: str) -> int:
    """How many workers hold a lease on the root App's template (its `workers`)."""
    [template] = [t for t in control.listings(runtime) if t["label"].endswith(" /")]
    return int(template["workers"])


@pytest.mark.parametrize("kind", RESPAWNING)
async def test_a_killed_worker_is_replaced_and_users_are_left_alone(kind: str, logs: Path) -> None:
    """SIGKILL of the worker that served a user (as the OOM killer does): its lease on the
    template goes, the server starts another worker, and the user keeps their process and
    state whichever worker answers; a worker serving the App takes a lease again."""
    runtime = own_runtime()
    server = launch(kind, runtime, logs)
    try:
        async with Visitor(server.url) as user:
            page = await user.page()
            victim = await worker_of(user)  # the same connection: the worker that served it
            workers = {worker.pid for worker in server.workers()}
            assert len(workers) == 4 and victim in workers, (victim, workers)
            async with user.websocket(page) as ws:
                assert updated_text(await click(ws, page, "inc")) == ["1"]
            leases = root_leases(runtime)  # the websocket's worker may be another one
            assert leases in (1, 2)
            psutil.Process(victim).send_signal(signal.SIGKILL)
            eventually(lambda: root_leases(runtime) == leases - 1, 5, message="its lease stayed")
            eventually(lambda: replaced(server, victim), 10, message="no worker replaced it")
            for n in range(2, 52):  # until workers serving the App hold as many leases again
                async with user.new_connection() as visitor:
                    again = await visitor.page()
                    assert again.pid == page.pid
                    async with visitor.websocket(again) as ws:
                        assert updated_text(await click(ws, again, "inc")) == [str(n)]
                if root_leases(runtime) >= leases:
                    break
            assert root_leases(runtime) >= leases
            assert server.process is not None and server.process.poll() is None
    finally:
        finish(server, runtime)


async def test_hypercorn_stops_when_a_worker_is_killed_and_leaves_nothing(logs: Path) -> None:
    """hypercorn -w (0.18) does not replace a worker that dies: it stops the others and
    exits (hypercorn/run.py, _join_exited). Our processes must end with it."""
    runtime = own_runtime()
    server = launch("hypercorn-4", runtime, logs)
    try:
        async with Visitor(server.url) as user:
            await user.page()
            victim = await worker_of(user)
        assert victim in {worker.pid for worker in server.workers()}
        psutil.Process(victim).send_signal(signal.SIGKILL)
        assert server.process is not None
        server.process.wait(15)
        eventually(lambda: not our_processes(runtime), 10, message="processes outlived it")
        assert ours_left(runtime) == []
    finally:
        finish(server, runtime)


def replaced(server: Server, victim: int) -> bool:
    """Whether the server runs its 4 workers again, without `victim`."""
    workers = {worker.pid for worker in server.workers()}
    return victim not in workers and len(workers) == 4


async def worker_of(visitor: Visitor) -> int:
    """The pid of the worker behind the visitor's kept-alive connection."""
    response = await visitor.http.get("/worker-pid.txt")
    assert response.status_code == 200
    return int(response.text)


@pytest.mark.parametrize("kind", MULTI)
async def test_sigkill_of_the_whole_server_leaves_nothing_within_5_s(kind: str, logs: Path) -> None:
    runtime = own_runtime()
    server = launch(kind, runtime, logs)
    try:
        for _ in range(3):
            async with Visitor(server.url) as visitor:
                await visitor.page()
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
            async with Visitor(server.url) as visitor:
                await visitor.page("/")
                await visitor.page("/other")
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
        async with Visitor(server.url) as user:
            page = await user.page()
            workers_before = {worker.pid for worker in server.workers()}
            values: list[int] = []
            for _ in range(15):
                for _ in range(3):  # other requests, enough to recycle every worker
                    await request_surviving_restarts(server)
                values.append(await click_surviving_restarts(user, page.pid))
            assert values == sorted(set(values)), values  # every click counted once, in order
            workers_after = {worker.pid for worker in server.workers()}
            assert not workers_before & workers_after, "no worker was restarted"
            assert (await user.page()).pid == page.pid
    finally:
        finish(server, runtime)


async def request_surviving_restarts(server: Server) -> None:
    """A plain request, on new connections until a worker answers it: a retiring worker
    closes a connection it accepted without answering (as for the user's below)."""
    for _ in range(5):
        async with Visitor(server.url) as noise:
            try:
                response = await noise.http.get("/hello.txt")
            except httpx.TransportError:
                continue
        assert response.status_code == 200
        return
    raise AssertionError("no worker answered five times in a row")


async def click_surviving_restarts(user: Visitor, pid: int) -> int:
    """Load the page and click, on new connections, until a worker answers; return the count."""
    for _ in range(5):
        async with user.new_connection() as fresh:
            try:
                again = await fresh.page()
                assert again.pid == pid
                async with fresh.websocket(again) as ws:
                    return int(updated_text(await click(ws, again, "inc"))[0])
            except (websockets.ConnectionClosed, websockets.InvalidHandshake, httpx.TransportError):
                continue  # that worker was retiring (also mid-handshake: no valid HTTP response)
    raise AssertionError("no worker answered five times in a row")
