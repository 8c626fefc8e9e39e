"""The registry's scripts on a real Redis, where a node's own view is not enough."""

from __future__ import annotations

from htagweb_asgi.cluster.registry import Owner, Registry
from htagweb_asgi.cluster.settings import ClusterSettings
from htagweb_asgi.redisclient import RedisHealth, connect
from tests.support.cluster import RedisServer

KEY = "f" * 32  # the process key of a session that a rotation just made


def registry(redis: RedisServer, node: str, address: str) -> Registry:
    settings = ClusterSettings(redis.url, node, address, prefix="test-registry")
    return Registry(connect(redis.url, 2.0), RedisHealth(redis.url), settings)


def test_a_rotated_process_is_owned_at_once_by_its_node(redis: RedisServer) -> None:
    """session.rotate() moves a process to a new key on its node: that node claims the key
    at once, so another node asked for it before the next heartbeat reaches the process
    instead of starting a second one."""
    a, b = registry(redis, "a", "127.0.0.2:9101"), registry(redis, "b", "127.0.0.3:9101")
    a.heartbeat([], [])  # both nodes live: their records name their links
    b.heartbeat([], [])
    a.adopt(KEY)
    assert b.owner(KEY) == Owner("a", "127.0.0.2:9101")
    assert a.owner(KEY) == Owner("a", None)  # ours, reached locally
