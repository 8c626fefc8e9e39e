"""What nodes tell each other: end these sessions' processes, kill this user's (``kill``),
this session changed (for the session store's stamps).

The fast path is Redis pub/sub; a message that a node misses (it was disconnected) is made
good by the tombstones: ending a session also leaves ``<p>:ended:<tag>`` for as long as the
session's cookie may live, and every heartbeat ends the local processes of tombstoned
sessions. Blocking calls: run in worker threads.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from htagweb_asgi.redisclient import RedisHealth

if TYPE_CHECKING:
    import redis
    from redis.client import PubSub

logger = logging.getLogger(__name__)

KILL_WAIT = 2.0  # seconds `kill` waits for the nodes' answers


class Bus:
    """The cluster's messages, sent and received by one node."""

    def __init__(self, client: redis.Redis, health: RedisHealth, prefix: str) -> None:
        self._redis = client
        self._health = health
        self._prefix = prefix
        self.channel = f"{prefix}:control"
        self._pubsub: PubSub | None = None

    # -- sending -----------------------------------------------------------------------------
    def end_sessions(self, tags: Iterable[str], tombstone_seconds: float) -> None:
        """Every node ends the processes of these sessions (tagged by Sessions.tag)."""
        tags = list(tags)
        pipe = self._redis.pipeline(transaction=False)
        for tag in tags:
            pipe.set(self._tombstone(tag), b"1", px=max(1000, int(tombstone_seconds * 1000)))
        pipe.publish(self.channel, json.dumps({"op": "end", "tags": tags}))
        self._health.call(pipe.execute)

    def kill(self, match: str, live_nodes: int) -> dict[str, int]:
        """Every node kills the processes whose session hash starts with `match` (or whose
        pid it is); return how many each node ended (the nodes that answered in time)."""
        reply = f"{self._prefix}:reply:{secrets.token_hex(8)}"
        message = json.dumps({"op": "kill", "match": match, "reply": reply})
        self._health.call(self._redis.publish, self.channel, message)
        ended: dict[str, int] = {}
        while len(ended) < live_nodes:
            got = self._health.call(self._redis.blpop, [reply], KILL_WAIT)
            if got is None:
                break
            answer = json.loads(got[1])
            node = str(answer["node"])
            ended[node] = max(ended.get(node, 0), int(answer["killed"]))
        self._redis.delete(reply)
        return ended

    def ended(self, tags: list[str]) -> list[str]:
        """Which of these sessions were ended (their tombstones)."""
        if not tags:
            return []
        found = self._health.call(self._redis.mget, [self._tombstone(t) for t in tags])
        return [tag for tag, value in zip(tags, found, strict=True) if value is not None]

    def _tombstone(self, tag: str) -> str:
        return f"{self._prefix}:ended:{tag}"

    # -- receiving ---------------------------------------------------------------------------
    def subscribe(self, *channels: str) -> None:
        """(Re)subscribe; raises when Redis does not answer."""
        self.close()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._health.call(pubsub.subscribe, self.channel, *channels)
        self._pubsub = pubsub

    def receive(self, timeout: float) -> tuple[str, Any] | None:
        """The next message (channel, payload) within `timeout` seconds, or None."""
        assert self._pubsub is not None
        message = self._health.call(self._pubsub.get_message, False, timeout)
        if message is None or message.get("type") != "message":
            return None
        channel = message["channel"].decode()
        data = message["data"].decode()
        return channel, json.loads(data) if channel == self.channel else data

    def answer(self, reply: str, node: str, killed: int) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(reply, json.dumps({"node": node, "killed": killed}))
        pipe.expire(reply, 60)
        self._health.call(pipe.execute)

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception as exc:  # a connection that is already broken
                logger.debug("closing a subscription: %s", exc)


def handle_control(
    message: dict[str, Any],
    end_session: Callable[[str], int],
    kill: Callable[[str], int],
) -> tuple[str, int] | None:
    """Carry out one control message; for a kill, return (reply key, how many ended)."""
    op = message.get("op")
    if op == "end":
        for tag in message.get("tags", []):
            end_session(str(tag))
        return None
    if op == "kill":
        return str(message["reply"]), kill(str(message["match"]))
    logger.warning("ignored an unknown cluster message %r", op)
    return None
