"""Sessions in Redis, for a cluster: every node reads and writes the same sessions.

A session is one Redis hash, ``<prefix>:s:<name>`` (``name``: a SHA-256 of the id, so a
look at Redis reveals no id), one field per key: writes stay per key, as in SQLite, so a
route and an App writing different keys never overwrite each other. Each write pushes the
hash's TTL to ``max_age`` (sliding expiry); Redis drops expired sessions itself.

Clicks skip the read when nothing changed: each write is published on
``<prefix>:sessions`` with the session's name, and the node's subscriber (cluster/bus.py)
moves the stamp of that name (``Invalidations``). Without a live subscription the stamp is
unknown and every click reads. While Redis is down no node can write a session, so the
stamps hold and users with an open page keep clicking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from htagweb_asgi.redisclient import RedisHealth, connect
from htagweb_asgi.sessions.core import SessionStoreError
from htagweb_asgi.sessions.store import SessionStore
from htagweb_asgi.sessions.values import Snapshot

if TYPE_CHECKING:
    import redis

T = TypeVar("T")
_SLOTS = 4096  # stamps are kept per slot of names: bounded memory, rare spurious reads


class Invalidations:
    """Stamps of session names, moved by the published writes of every node."""

    def __init__(self) -> None:
        self._generation: int | None = None  # None: not subscribed yet, stamps unknown
        self._slots = [0] * _SLOTS

    def subscribed(self) -> None:
        """A (re)subscription: writes published meanwhile may be lost, so every stamp moves."""
        self._generation = (self._generation or 0) + 1

    def changed(self, name: str) -> None:
        self._slots[int(name[:8], 16) % _SLOTS] += 1

    def stamp(self, name: str) -> Hashable | None:
        if self._generation is None:
            return None
        return (self._generation, self._slots[int(name[:8], 16) % _SLOTS])


def session_name(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


class RedisStore(SessionStore):
    """Sessions in Redis (``redis://host:6379/0``), shared by every node of a cluster.

    Give either `url` or a redis-py `client` (then `health`). Failures raise
    SessionStoreError after one log line per outage (see redisclient.RedisHealth).
    """

    blocking = True  # a network round trip: the host reads it in a thread

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | None = None,
        health: RedisHealth | None = None,
        prefix: str = "htagweb",
        timeout: float = 2.0,
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisStore needs a url or a client")
            client = connect(url, timeout)
        self._redis = client
        self.client = client  # shared with the cluster's node (one client per worker)
        self.health = health or RedisHealth(url or "redis")
        self.prefix = prefix
        self.channel = f"{prefix}:sessions"
        self.invalidations = Invalidations()

    def _key(self, name: str) -> str:
        return f"{self.prefix}:s:{name}"

    def load(self, session_id: str) -> Snapshot:
        raw = self._call(self._redis.hgetall, self._key(session_name(session_id)))
        return {_text(k): _text(v) for k, v in raw.items()}

    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        name = session_name(session_id)
        key = self._key(name)
        pipe = self._redis.pipeline(transaction=True)
        written = {k: v for k, v in changes.items() if v is not None}
        removed = [k for k, v in changes.items() if v is None]
        if written:
            pipe.hset(key, mapping=written)  # type: ignore[arg-type]
        if removed:
            pipe.hdel(key, *removed)
        pipe.pexpire(key, max(1, int(max_age * 1000)))
        pipe.publish(self.channel, name)
        self._call(pipe.execute)
        self.invalidations.changed(name)

    def delete(self, session_id: str) -> None:
        name = session_name(session_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._key(name))
        pipe.publish(self.channel, name)
        self._call(pipe.execute)
        self.invalidations.changed(name)

    def rename(self, old_id: str, new_id: str) -> None:
        old, new = session_name(old_id), session_name(new_id)
        script = (
            "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end"
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.eval(script, 2, self._key(old), self._key(new))
        pipe.publish(self.channel, old)
        pipe.publish(self.channel, new)
        self._call(pipe.execute)
        self.invalidations.changed(old)
        self.invalidations.changed(new)

    def cleanup(self) -> int:
        return 0  # Redis expires sessions itself (their TTL)

    def stamp(self, session_id: str) -> Hashable | None:
        return self.invalidations.stamp(session_name(session_id))

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return self.health.call(function, *args)
        except Exception as exc:
            raise SessionStoreError("the session store (Redis) does not answer") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
