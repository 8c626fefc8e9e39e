"""A cluster on one machine: Redis, nodes on 127.0.0.2 and 127.0.0.3, balancers on
127.0.0.1 (nginx, HAProxy), each started from Debian's binaries on loopback, no service
manager; every wait is bounded."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from htagweb_asgi.protocol import control
from tests.support.client import Visitor
from tests.support.proxy import free_port
from tests.support.servers import READY_TIMEOUT, ROOT, STOP_TIMEOUT, Server

NODE_HOSTS = ("127.0.0.2", "127.0.0.3")
CLUSTER_APP = "tests.support.apps.cluster_host:app"
EXAMPLES = ROOT / "examples" / "cluster"


def find_binary(name: str, *candidates: str) -> str | None:
    for candidate in (shutil.which(name), *candidates):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class RedisServer:
    """``redis-server`` on 127.0.0.1, without persistence: stop() and start() again is a
    Redis that lost everything, as after a crash."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - redis writes to it
        self.process = subprocess.Popen(
            [
                *(self.binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *("--protected-mode", "yes", "--daemonize", "no"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            if self.ping():
                return self
            time.sleep(0.05)  # polling a condition, bounded by the deadline above
        raise TimeoutError(f"redis-server did not answer:\n{self.log()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Node(Server):
    """A cluster node: the cluster host served by uvicorn on its own loopback address."""

    host: str = "127.0.0.2"
    link_port: int = 0
    sock: socket.socket = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.sock = _listening(self.host, 0)
        super().__post_init__()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.env["HTAGWEB_NODE"]

    def spawn(self) -> Node:
        if self.sock.fileno() < 0:  # a restart: listen on the same port again
            self.sock = _listening(self.host, self.port)
        super().spawn()
        return self


def _listening(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def start_nodes(
    redis: RedisServer,
    logs: Path,
    secret: str,
    kinds: tuple[str, str] = ("uvicorn", "uvicorn"),
    **env: str,
) -> list[Node]:
    """Node a on 127.0.0.2 and node b on 127.0.0.3, each with its own runtime directory,
    served by the servers `kinds` (tests/support/servers.py's names)."""
    nodes = []
    for name, host, kind in zip("ab", NODE_HOSTS, kinds, strict=True):
        runtime = tempfile.mkdtemp(prefix="hwc-")
        link = free_port()
        node_env = {
            "HTAGWEB_REDIS_URL": redis.url,
            "HTAGWEB_NODE": name,
            "HTAGWEB_NODE_ADDRESS": f"{host}:{link}",
            "HTAGWEB_SECRET_KEY": secret,
            "HTAGWEB_TEST_RUNTIME": runtime,
            "XDG_RUNTIME_DIR": runtime,
            **env,
        }
        log = logs / f"node-{name}-{len(list(logs.iterdir()))}.log"
        node = Node(kind, CLUSTER_APP, runtime, log, env=node_env, host=host, link_port=link)
        nodes.append(node.spawn())
    for node in nodes:
        node.wait_ready("/hello.txt")
    return nodes


def new_secret() -> str:
    return secrets.token_hex(32)


def answered_by(url: str, cookies: httpx.Cookies | None = None) -> str:
    """Which node answers /node.txt at `url` (a balancer's address)."""
    return httpx.get(url + "/node.txt", cookies=cookies, timeout=5).text


def balancer_config(example: str, nodes: list[Node], port: int) -> str:
    """examples/cluster/`example` with the test's addresses (and nothing else changed)."""
    text = (EXAMPLES / example).read_text()
    replacements = {
        "node-a.example.internal:8000": f"{nodes[0].host}:{nodes[0].port}",
        "node-b.example.internal:8000": f"{nodes[1].host}:{nodes[1].port}",
        "listen 80;": f"listen 127.0.0.1:{port};",
        "bind :80": f"bind 127.0.0.1:{port}",
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    assert "example.internal" not in text, f"{example}: an address the test did not replace"
    return text


class HAProxy:
    """HAProxy in the foreground with the given configuration."""

    def __init__(self, binary: str, directory: Path, config: str) -> None:
        self.binary = binary
        self.directory = directory
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str) -> HAProxy:
        path = self.directory / "haproxy.cfg"
        path.write_text(self.config)
        log = open(self.directory / "haproxy.log", "ab")  # noqa: SIM115 - haproxy writes to it
        self.process = subprocess.Popen(
            [self.binary, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(ready_url, timeout=2.0).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a condition, bounded by the deadline above
        raise TimeoutError(f"haproxy did not answer:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)

    def log(self) -> str:
        path = self.directory / "haproxy.log"
        return path.read_text(errors="replace") if path.exists() else ""


def same_browser(visitor: Visitor, node: Node) -> Visitor:
    """The browser of `visitor` (its cookies, whatever host set them) talking to `node`."""
    other = Visitor(node.url)
    other.http.cookies = httpx.Cookies({c.name: c.value or "" for c in visitor.http.cookies.jar})
    return other


def owner_of(pid: int, nodes: list[Node]) -> Node:
    """The node whose templates list `pid` among their user processes."""
    for node in nodes:
        if any(p["pid"] == pid for t in control.listings(node.runtime) for p in t["processes"]):
            return node
    raise AssertionError(f"no node has process {pid}")
