"""A cluster on loopback: Redis, nodes a (127.0.0.2) and b (127.0.0.3), balancers on
127.0.0.1. Module-scoped where the tests leave it as they found it; the tests that break
something (a node killed, Redis stopped) start their own."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import (
    HAProxy,
    Node,
    RedisServer,
    balancer_config,
    find_binary,
    new_secret,
    start_nodes,
)
from tests.support.proxy import Nginx, find_nginx, free_port

REDIS = find_binary("redis-server", "/usr/bin/redis-server")
HAPROXY = find_binary("haproxy", "/usr/sbin/haproxy")
NGINX = find_nginx()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="hw-cluster-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def start_redis(directory: Path) -> RedisServer:
    if REDIS is None:
        pytest.fail("redis-server is missing: scripts/test.sh installs Debian's redis-server")
    return RedisServer(REDIS, directory).start()


@pytest.fixture(scope="module")
def redis(scratch: Path) -> Iterator[RedisServer]:
    server = start_redis(scratch)
    yield server
    server.stop()


@pytest.fixture
def own_cluster(scratch: Path, logs: Path) -> Iterator[tuple[RedisServer, list[Node]]]:
    """Redis and two nodes for one test (it may kill any of them)."""
    directory = scratch / f"redis-{time.monotonic_ns()}"
    directory.mkdir()
    redis = start_redis(directory)
    nodes = start_nodes(redis, logs, new_secret())
    yield redis, nodes
    for node in nodes:
        node.stop()
        shutil.rmtree(node.runtime, ignore_errors=True)
    redis.stop()


@pytest.fixture(scope="module")
def cluster(redis: RedisServer, logs: Path) -> Iterator[list[Node]]:
    """Node a on uvicorn (asyncio), node b on hypercorn -k trio: a cluster runs on both."""
    nodes = start_nodes(redis, logs, new_secret(), ("uvicorn", "hypercorn-trio"))
    yield nodes
    for node in nodes:
        node.stop()
        shutil.rmtree(node.runtime, ignore_errors=True)


@contextlib.contextmanager
def balancer(example: str, nodes: list[Node], directory: Path) -> Iterator[str]:
    """examples/cluster/`example` (nginx's or HAProxy's) in front of `nodes`: its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    site = directory / f"{example}-{port}"
    site.mkdir()
    config = balancer_config(example, nodes, port)
    proxy: Nginx | HAProxy
    if example.startswith("haproxy"):
        if HAPROXY is None:
            pytest.fail("haproxy is missing: scripts/test.sh installs Debian's haproxy")
        proxy = HAProxy(HAPROXY, site, config)
    else:
        if NGINX is None:
            pytest.fail("nginx is missing: scripts/test.sh unpacks Debian's nginx")
        proxy = Nginx(NGINX, site, config)
    proxy.start(url + "/hello.txt")
    try:
        yield url
    finally:
        proxy.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the clients (websockets) are asyncio; the nodes run their own loops
