"""What a cluster must survive: a logout on another node, a node SIGKILLed, Redis stopped
and restarted, the cluster-wide cap, and strangers at the link. The tests that break
something start their own Redis and nodes."""

from __future__ import annotations

import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from htagweb_asgi.protocol.frames import Kind, encode_json
from tests.cluster.conftest import balancer, start_redis
from tests.support.client import Visitor, click, updated_text
from tests.support.cluster import Node, RedisServer, new_secret, owner_of, same_browser, start_nodes
from tests.support.servers import ROOT
from tests.support.waiting import eventually, eventually_async, pid_gone

pytestmark = pytest.mark.anyio


async def test_a_logout_on_one_node_ends_the_process_on_the_other_within_a_second(
    cluster: list[Node],
) -> None:
    a, b = cluster
    async with Visitor(a.url) as on_a:
        page = await on_a.page("/ui/")
        assert owner_of(page.pid, cluster) is a
        async with same_browser(on_a, b) as on_b:
            response = await on_b.http.post("/logout")
            assert response.status_code == 200
        await eventually_async(
            lambda: pid_gone(page.pid), 1.0, message="the process on a outlived the logout on b"
        )


async def test_a_killed_nodes_users_continue_on_the_other_with_their_session(
    own_cluster: tuple[RedisServer, list[Node]], scratch: Path
) -> None:
    """SIGKILL of the node owning a user's process: the next page load (through the
    balancer) is served by the other node, with the login intact, in a fresh App."""
    _, nodes = own_cluster
    with balancer("nginx-affinity.conf", nodes, scratch) as url:
        async with Visitor(url) as user:
            assert (await user.http.post("/login", json={"name": "ada"})).status_code == 200
            page = await user.page("/ui/session/")
            assert page.texts["user"] == "ada"
            victim = owner_of(page.pid, nodes)
            survivor = next(node for node in nodes if node is not victim)
            victim.stop(signal.SIGKILL)
            again = await user.page("/ui/session/")  # the one reload
            assert again.texts["user"] == "ada" and again.pid != page.pid
            assert owner_of(again.pid, nodes) is survivor
            async with user.websocket(again) as ws:
                reply = await click(ws, again, "write")
                assert any("ada" in text for text in updated_text(reply)), reply


async def test_redis_stopped_and_restarted(own_cluster: tuple[RedisServer, list[Node]]) -> None:
    """While Redis is down an open page keeps working and a new visitor gets a clear 503;
    once it is back, new visitors are served again, with no restart; each node says so in
    one log line per change."""
    redis, nodes = own_cluster
    a = nodes[0]
    async with Visitor(a.url) as user:
        page = await user.page("/ui/")
        async with user.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
            redis.stop()
            assert updated_text(await click(ws, page, "inc")) == ["2"]
            async with Visitor(a.url) as newcomer:
                refused = await newcomer.http.get("/ui/")
                assert refused.status_code == 503, refused.text
                assert "retry" in refused.text and "Traceback" not in refused.text
            assert updated_text(await click(ws, page, "inc")) == ["3"]
            redis.start()

            async def served() -> bool:
                async with Visitor(a.url) as later:
                    return (await later.http.get("/ui/")).status_code == 200

            deadline = time.monotonic() + 15
            while not await served():
                assert time.monotonic() < deadline, "not served again after Redis came back"
            assert updated_text(await click(ws, page, "inc")) == ["4"]
    for node in nodes:  # the heartbeat of each node meets Redis again within a second or two
        eventually(lambda node=node: "answers again" in node.log(), 10, message=node.log())  # type: ignore[misc]
        log = node.log()
        assert log.count("does not answer (") == 1, log[-3000:]
        assert log.count("answers again") == 1, log[-3000:]


async def test_the_cluster_wide_cap_holds_on_every_node(scratch: Path, logs: Path) -> None:
    """HTAGWEB_CLUSTER_MAX_PROCESSES=2: a third user is refused (503) on either node."""
    directory = scratch / "redis-cap"
    directory.mkdir()
    redis = start_redis(directory)
    nodes = start_nodes(redis, logs, new_secret(), HTAGWEB_CLUSTER_MAX_PROCESSES="2")
    try:
        a, b = nodes
        async with Visitor(a.url) as first, Visitor(b.url) as second:
            assert (await first.http.get("/ui/")).status_code == 200
            assert (await second.http.get("/ui/")).status_code == 200
            for node in nodes:
                async with Visitor(node.url) as third:
                    refused = await third.http.get("/ui/")
                    assert refused.status_code == 503, (node.name, refused.text[:300])
                    assert "busy" in refused.text
            assert (await first.http.get("/ui/")).status_code == 200  # its own: still served
    finally:
        for node in nodes:
            node.stop()
            shutil.rmtree(node.runtime, ignore_errors=True)
        redis.stop()


def link_of(node: Node) -> tuple[str, int]:
    host, _, port = node.env["HTAGWEB_NODE_ADDRESS"].rpartition(":")
    return host, int(port)


def read_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    header = b""
    while len(header) < 5:
        chunk = sock.recv(5 - len(header))
        if not chunk:
            return None
        header += chunk
    size = struct.unpack(">I", header[:4])[0]
    body = b""
    while len(body) < size - 1:
        chunk = sock.recv(size - 1 - len(body))
        if not chunk:
            return None
        body += chunk
    return header[4:5], body


@pytest.mark.parametrize("attempt", ["wrong secret", "no proof", "garbage"])
def test_the_link_refuses_who_does_not_hold_the_secret(cluster: list[Node], attempt: str) -> None:
    """A client without the cluster's secret gets the server's challenge, then a closed
    connection: never an OPEN answered, never a process's frames."""
    with socket.create_connection(link_of(cluster[0]), timeout=5) as sock:
        hello = read_frame(sock)
        assert hello is not None and hello[0] == Kind.AUTH.value
        if attempt == "wrong secret":
            proof = {"node": "mallory", "nonce": "00" * 16, "mac": "ab" * 32}
            sock.sendall(encode_json(Kind.AUTH, proof))
        elif attempt == "no proof":
            sock.sendall(encode_json(Kind.OPEN, {"op": "spawn", "app": "/", "key": "0" * 32}))
        else:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_frame(sock) is None  # closed without a word


def test_ps_and_kill_see_and_act_on_the_whole_cluster(cluster: list[Node]) -> None:
    pids = []
    for node in cluster:
        pids.append(httpx_page_pid(node.url))
    env = {"HTAGWEB_REDIS_URL": cluster[0].env["HTAGWEB_REDIS_URL"], "PYTHONPATH": str(ROOT)}

    def listed() -> str:  # as of each node's last heartbeat (every second)
        shown = command("ps", env)
        assert shown.returncode == 0, shown.stderr
        return shown.stdout if all(f" {pid} " in shown.stdout for pid in pids) else ""

    deadline = time.monotonic() + 5
    while not (stdout := listed()):
        assert time.monotonic() < deadline, "ps did not list both processes"
    column = stdout.splitlines()[0].index("NODE")  # the columns are aligned
    for pid, node in zip(pids, cluster, strict=True):
        line = next(line for line in stdout.splitlines() if f" {pid} " in line)
        assert line[column:].split()[0] == node.name
    killed = command("kill", env, str(pids[1]))
    assert killed.returncode == 0 and "ended 1 process" in killed.stdout, killed
    deadline = time.monotonic() + 5
    while not pid_gone(pids[1]):
        assert time.monotonic() < deadline, "kill did not end the process on node b"
        time.sleep(0.02)  # polling a condition, bounded by the deadline above


def httpx_page_pid(url: str) -> int:
    from tests.support.pageparse import ParsedPage

    response = httpx.get(url + "/ui/", timeout=10)
    assert response.status_code == 200
    return ParsedPage.parse(response.text).pid


def command(*args: str | dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **next(a for a in args if isinstance(a, dict))}
    words = [a for a in args if isinstance(a, str)]
    return subprocess.run(
        [sys.executable, "-m", "htagweb_asgi", *words],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
