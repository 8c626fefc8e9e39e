"""``python -m htagweb_asgi ps`` and ``kill`` for a whole cluster, through its Redis.

``ps`` reads each live node's listing, which its heartbeat keeps in Redis; ``kill`` asks
every node over pub/sub and waits (bounded) for each live node's count.
"""

from __future__ import annotations

from typing import Any

from htagweb_asgi.cluster.bus import Bus
from htagweb_asgi.cluster.registry import Registry
from htagweb_asgi.cluster.settings import ClusterSettings
from htagweb_asgi.redisclient import RedisHealth, connect

TIMEOUT = 5.0


def run(url: str, prefix: str, command: str, match: str | None) -> tuple[list[dict[str, Any]], int]:
    """`command` ("ps" or "kill") on every node: (the templates' listings, processes ended)."""
    client = connect(url, TIMEOUT)
    health = RedisHealth(url)
    settings = ClusterSettings(url, "operator", "operator.invalid:1", prefix=prefix)
    listings = Registry(client, health, settings).listings()
    if command == "ps":
        return [template for node in listings.values() for template in node], 0
    assert match is not None
    ended = Bus(client, health, prefix).kill(match, live_nodes=len(listings))
    return [], sum(ended.values())
