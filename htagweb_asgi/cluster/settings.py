"""What a node of a cluster needs to know: Redis, its name, and where other nodes reach it."""

from __future__ import annotations

import math
import os
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from htagweb_asgi.sessions.store import SessionStore

REDIS_URL_ENV = "HTAGWEB_REDIS_URL"
NODE_ENV = "HTAGWEB_NODE"
NODE_ADDRESS_ENV = "HTAGWEB_NODE_ADDRESS"
NODE_BIND_ENV = "HTAGWEB_NODE_BIND"
CLUSTER_MAX_ENV = "HTAGWEB_CLUSTER_MAX_PROCESSES"
NODE_COOKIE = "htagweb_node"

_NODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class ClusterSettings:
    """One node of a cluster.

    - redis_url: ``redis://host:6379/0`` (``rediss://`` for TLS): sessions and the registry.
    - node: this node's name, unique in the cluster (letters, digits, ``.``, ``_``, ``-``);
      it is the value of the node cookie a balancer may route on.
    - address: ``host:port`` where the other nodes reach this one (the internal link, not
      for browsers: keep it off the public network).
    - bind: ``host:port`` to listen on for the link (default: `address`; ``0.0.0.0:9100``
      in a container whose advertised address is the pod's).
    - prefix: of every Redis key, so that several clusters can share one Redis.
    - heartbeat: seconds between two heartbeats of a node; node_ttl: seconds after its last
      heartbeat when a node counts as dead and its users move to live nodes.
    - owner_ttl: seconds an ownership entry outlives its process's last heartbeat.
    - max_processes: live user processes in the whole cluster (0: no cluster-wide cap;
      each node's own ``max_processes`` still holds).
    - redis_timeout: seconds a Redis command may take before Redis counts as down.
    """

    redis_url: str
    node: str
    address: str
    bind: str | None = None
    prefix: str = "htagweb"
    heartbeat: float = 1.0
    node_ttl: float = 5.0
    owner_ttl: float = 30.0
    max_processes: int = 0
    redis_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not _NODE_RE.fullmatch(self.node):
            raise ValueError(f"bad node name {self.node!r}: letters, digits, '.', '_', '-'")
        split_address(self.address)
        split_address(self.listen_on)
        times = (self.heartbeat, self.node_ttl, self.owner_ttl, self.redis_timeout)
        if not all(t > 0 and math.isfinite(t) for t in times):
            raise ValueError("heartbeat, node_ttl, owner_ttl and redis_timeout must be > 0")
        if self.node_ttl < 2 * self.heartbeat or self.owner_ttl < 2 * self.heartbeat:
            raise ValueError("node_ttl and owner_ttl must be at least two heartbeats")
        if self.max_processes < 0:
            raise ValueError("max_processes must be >= 0 (0: no cluster-wide cap)")

    def session_store(self) -> SessionStore:
        """The sessions of this cluster: in its Redis, under its prefix."""
        from htagweb_asgi.sessions.redisstore import RedisStore

        return RedisStore(self.redis_url, prefix=self.prefix, timeout=self.redis_timeout)

    @property
    def listen_on(self) -> str:
        return self.bind or self.address

    @classmethod
    def from_environment(cls) -> ClusterSettings | None:
        """The settings from ``$HTAGWEB_REDIS_URL`` and friends; None when it is not set.

        Raises ValueError when the URL is set without ``$HTAGWEB_NODE_ADDRESS``.
        """
        url = os.environ.get(REDIS_URL_ENV)
        if not url:
            return None
        address = os.environ.get(NODE_ADDRESS_ENV)
        if not address:
            raise ValueError(f"{REDIS_URL_ENV} is set: {NODE_ADDRESS_ENV} (host:port) must be too")
        return cls(
            redis_url=url,
            node=os.environ.get(NODE_ENV) or socket.gethostname().split(".")[0],
            address=address,
            bind=os.environ.get(NODE_BIND_ENV) or None,
            max_processes=int(os.environ.get(CLUSTER_MAX_ENV) or 0),
        )


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9100`` for IPv6) as (host, port); ValueError when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}: expected host:port")
    return host.strip("[]"), int(port)
