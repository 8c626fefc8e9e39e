"""Hard edges of the network, each with a clear answer: no 5xx, no false crash, no lost App.

One uvicorn server (the other servers run the protocol tests); raw clients.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from htagweb_asgi.protocol.codes import Close
from tests.support.client import Visitor, click, closed_with, receive, updated_text
from tests.support.servers import Server, our_processes, start_server, user_processes
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def uvicorn(runtime: str, logs: Path) -> Iterator[Server]:
    running = start_server("uvicorn", "tests.support.apps.hosts:main", runtime, logs)
    yield running
    running.close()


async def test_deeply_nested_json_is_refused_and_the_app_lives_on(uvicorn: Server) -> None:
    async with Visitor(uvicorn.url) as visitor:
        page = await visitor.page()
        async with visitor.websocket(page) as ws:
            await click(ws, page, "inc")
            await ws.send("[" * 20_000 + "]" * 20_000)
            assert (await closed_with(ws))[0] == Close.POLICY_VIOLATION  # not CRASHED
        again = await visitor.page()
        assert again.pid == page.pid and again.texts["value"] == "1"


async def test_a_lone_surrogate_from_the_page_does_not_cost_the_app(uvicorn: Server) -> None:
    """A browser's JSON.stringify can send one; the App's next page must still render."""
    async with Visitor(uvicorn.url) as visitor:
        page = await visitor.page()
        message = json.loads(page.click("say"))
        message["event"] = {"value": "x\ud800y"}
        async with visitor.websocket(page) as ws:
            await ws.send(json.dumps(message))  # ASCII JSON with the "\ud800" escape
            assert updated_text(await receive(ws)) == ["x\ufffdy"]
        again = await visitor.page()
        assert again.pid == page.pid and again.texts["said"] == "x\ufffdy"


@pytest.mark.parametrize("keyword", ["session", "parent", "childs", "tag", "init", "state"])
async def test_query_keywords_that_name_htag_attributes_are_ignored(
    uvicorn: Server, keyword: str
) -> None:
    async with Visitor(uvicorn.url) as visitor:
        page = await visitor.page(f"/?a&{keyword}=1&b=2")  # not "failed to render"
        assert page.texts["init"] == "init=['a'] [('b', '2')]"  # the others are kept


async def test_a_message_of_exactly_the_limit_is_served(uvicorn: Server) -> None:
    async with Visitor(uvicorn.url) as visitor:
        page = await visitor.page()
        message = page.click("inc")
        padded = message[:-1] + " " * (64 * 1024 - len(message.encode())) + message[-1]
        assert len(padded.encode()) == 64 * 1024  # hosts:main's max_frame_size
        async with visitor.websocket(page) as ws:
            await ws.send(padded)
            assert updated_text(await receive(ws)) == ["1"]
            await ws.send(padded + " ")
            assert (await closed_with(ws))[0] == Close.MESSAGE_TOO_BIG


async def test_a_post_larger_than_a_websocket_message_is_served(runtime: str, logs: Path) -> None:
    server = start_server("uvicorn", "tests.support.apps.hosts:bodies", runtime, logs)
    try:
        async with Visitor(server.url) as visitor:
            page = await visitor.page()
            message = page.click("inc")
            body = message[:-1] + " " * (200 * 1024) + message[-1]
            reply = await visitor.post(page, body)
            assert reply.status_code == 200 and updated_text(reply.json()) == ["1"]
            too_big = await visitor.post(page, body + " " * (64 * 1024))
            assert too_big.status_code == 413
            assert too_big.json()["code"] == Close.MESSAGE_TOO_BIG
    finally:
        server.close()


@pytest.mark.parametrize("method", ["POST", "DELETE", "CONNECT", "PUT"])
async def test_the_client_script_answers_get_and_head_only(uvicorn: Server, method: str) -> None:
    async with Visitor(uvicorn.url) as visitor:
        response = await visitor.http.request(method, "/_/client.js")
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


async def test_a_100_character_temp_dir_works(logs: Path) -> None:
    """No XDG_RUNTIME_DIR and a $TMPDIR too long for socket paths (macOS's is 49)."""
    top = tempfile.mkdtemp(prefix="hw-tmp-")
    long_tmp = os.path.join(top, "t" * (100 - len(top) - 1))
    os.mkdir(long_tmp)
    env = {"TMPDIR": long_tmp, "XDG_RUNTIME_DIR": ""}
    server = start_server("uvicorn", "tests.support.apps.hosts:default_runtime", top, logs, env=env)
    in_tmp = os.path.join(long_tmp, f"htagweb-asgi-{os.getuid()}")
    short = f"/tmp/hw-{os.getuid()}-{hashlib.sha256(in_tmp.encode()).hexdigest()[:8]}"
    try:
        async with Visitor(server.url) as visitor:
            page = await visitor.page()
            async with visitor.websocket(page) as ws:
                assert updated_text(await click(ws, page, "inc")) == ["1"]
        assert os.listdir(short)  # the App's sockets live there
    finally:
        server.close()
        eventually(lambda: not os.path.exists(short) or not os.listdir(short), 10)
        shutil.rmtree(short, ignore_errors=True)
        shutil.rmtree(top, ignore_errors=True)


async def test_granian_stops_cleanly(runtime: str, logs: Path) -> None:
    """granian gives the server's port as a string: the template still probes it, and stops
    with the server, leaving nothing behind."""
    own = tempfile.mkdtemp(prefix="hw-")
    server = start_server("granian", "tests.support.apps.hosts:main", own, logs)
    try:
        async with Visitor(server.url) as visitor:
            page = await visitor.page()
            assert page.pid in {process.pid for process in user_processes(own)}
    finally:
        server.close()
    eventually(lambda: not our_processes(own), 10, message="processes left behind")
    eventually(lambda: not os.listdir(own), 10, message=f"files left: {os.listdir(own)}")
    assert "Traceback" not in server.log_path.read_text()
    shutil.rmtree(own, ignore_errors=True)


async def test_a_page_whose_process_another_tab_replaced_is_told_so(uvicorn: Server) -> None:
    """Another tab of the session opens the App with other arguments: the template replaces
    the process. The first page is told why (not "stopped unexpectedly"), and not to reload:
    that would replace the other tab's process in turn."""
    async with Visitor(uvicorn.url) as first:
        page = await first.page("/?a")
        async with first.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
            async with first.new_connection() as second:
                other = await second.page("/?b")
            assert other.pid != page.pid
            assert (await closed_with(ws))[0] == Close.REPLACED
