"""The cluster's registry in Redis: which node owns which user process, which nodes live,
and the cluster-wide cap. Every change is one Lua script, so it is atomic.

Keys (``<p>`` is the prefix): ``<p>:node:<node>`` a live node's record (JSON: its link
address), kept alive by its heartbeat (TTL node_ttl); ``<p>:owner:<key>`` the node owning the
process of ``<key>`` (TTL owner_ttl, refreshed by the owner's heartbeat while the process
lives); ``<p>:live`` the processes counted by the cluster-wide cap (a sorted set of keys by
expiry). Blocking calls: the callers run them in worker threads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from htagweb_asgi.cluster.settings import ClusterSettings
from htagweb_asgi.redisclient import RedisHealth

if TYPE_CHECKING:
    import redis

# The owner of KEYS[1]: an owner whose node lives keeps it; else we (ARGV[1]) claim it.
_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  local record = redis.call('GET', ARGV[3] .. owner)
  if record then return {owner, record} end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {ARGV[1]}
"""
# Take KEYS[1] over from ARGV[1], a node whose link refuses connections (it is gone).
_TAKE_OVER = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]
"""
# Admit ARGV[1] under the cap ARGV[3]: the live set without its expired members.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and
   redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
# A heartbeat: the node's record and listing, and its live processes (ARGV[7..]) kept as
# ours; returns those another node owns meanwhile (duplicates: ours must end).
_HEARTBEAT = """
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
for i = 7, #ARGV do
  local k = ARGV[5] .. ARGV[i]
  local owner = redis.call('GET', k)
  if owner and owner ~= ARGV[1] then
    table.insert(lost, ARGV[i])
  else
    redis.call('SET', k, ARGV[1], 'PX', ARGV[6])
    redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[i])
  end
end
return lost
"""


@dataclass(frozen=True)
class Owner:
    """Who owns a process: its node, and where that node's link listens (None: us)."""

    node: str
    address: str | None


class Registry:
    """The registry calls of one node (blocking; each one is a round trip)."""

    def __init__(self, client: redis.Redis, health: RedisHealth, settings: ClusterSettings):
        self._redis = client
        self._health = health
        self._settings = settings
        p = settings.prefix
        self._node_prefix = f"{p}:node:"
        self._owner_prefix = f"{p}:owner:"
        self._live = f"{p}:live"
        self._claim = client.register_script(_CLAIM)
        self._take_over = client.register_script(_TAKE_OVER)
        self._admit = client.register_script(_ADMIT)
        self._heartbeat = client.register_script(_HEARTBEAT)

    @property
    def me(self) -> str:
        return self._settings.node

    def owner(self, key: str) -> Owner:
        """The owner of `key`'s process, claimed for this node when no live node owns it."""
        args = [self.me, _ms(self._settings.owner_ttl), self._node_prefix]
        found = self._call(self._claim, [self._owner_prefix + key], args)
        node = found[0].decode()
        if node == self.me:
            return Owner(node, None)
        return Owner(node, str(json.loads(found[1])["address"]))

    def adopt(self, key: str) -> None:
        """Own `key`, a fresh key this node's process was moved to (a rotated session)."""
        self._call(
            self._redis.set, self._owner_prefix + key, self.me, None, _ms(self._settings.owner_ttl)
        )

    def take_over(self, key: str, gone: str) -> Owner | None:
        """Own `key` instead of `gone`, whose link refused us; None if a third node did."""
        args = [gone, self.me, _ms(self._settings.owner_ttl)]
        node = self._call(self._take_over, [self._owner_prefix + key], args).decode()
        return Owner(node, None) if node == self.me else None

    def admit(self, key: str) -> bool:
        """Whether a new process of `key` fits under the cluster-wide cap (counted if so)."""
        cap = self._settings.max_processes
        if not cap:
            return True
        args = [key, _ms(self._settings.node_ttl), cap]
        return bool(self._call(self._admit, [self._live], args))

    def heartbeat(self, listing: list[dict[str, Any]], keys: list[str]) -> list[str]:
        """Say this node lives (with its processes, for ``ps``) and keep owning `keys`, its
        live processes; return the keys that another node owns meanwhile."""
        s = self._settings
        record = json.dumps({"address": s.address})
        keys_ = [self._node_prefix + self.me, f"{s.prefix}:ps:{self.me}", self._live]
        args = [self.me, record, _ms(s.node_ttl), json.dumps(listing), self._owner_prefix]
        args.append(_ms(s.owner_ttl))
        lost = self._call(self._heartbeat, keys_, [*args, *keys])
        return [k.decode() for k in lost]

    def listings(self) -> dict[str, list[dict[str, Any]]]:
        """Every live node's last listing (``ps`` for the whole cluster)."""
        pattern = f"{self._settings.prefix}:ps:*"
        names = sorted(self._call(lambda: list(self._redis.scan_iter(pattern, count=100))))
        values = self._call(self._redis.mget, names) if names else []
        start = len(pattern) - 1
        return {
            name.decode()[start:]: json.loads(value)
            for name, value in zip(names, values, strict=True)
            if value is not None
        }

    def _call(self, function: Any, *args: Any) -> Any:
        return self._health.call(function, *args)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
