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


def start_nodes(redis: RedisServer, logs: Path, secret: str, **env: str) -> list[Node]:
    """Node a on 127.0.0.2 and node b on 127.0.0.3, each with its own runtime directory."""
    nodes = []
    for name, host in zip("ab", NODE_HOSTS, strict=True):
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
        node = Node("uvicorn", CLUSTER_APP, runtime, log, env=node_env, host=host, link_port=link)
        nodes.append(node.spawn())
    for node in nodes:
        node.wait_ready("/hello.txt")
    return nodes


def new_secret() -> str:
    return secrets.token_hex(32)


def answered_by(url: str, cookies: httpx.Cookies | None = None) -> str:
    """Which node answers /node.txt at `url` (a balancer's address)."""
    return httpx.get(url + "/node.txt", cookies=cookies, timeout=5).text
