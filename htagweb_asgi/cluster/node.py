"""This worker's part in the cluster: the node's heartbeat, its subscription to the
cluster's messages, its end of the link, and where each request's process is.

The three loops run for the worker's lifetime, in the task group of the ASGI lifespan (a
cluster node needs it: ``HtagASGI.lifespan`` or the server's lifespan protocol). Every
worker of a node runs them: the heartbeat and the messages are idempotent, and the link's
connections are spread over the workers by the kernel (SO_REUSEPORT).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio

from htagweb_asgi import paths
from htagweb_asgi.cluster import gateway
from htagweb_asgi.cluster.bus import Bus, handle_control
from htagweb_asgi.cluster.placement import LocalProcesses, Placed
from htagweb_asgi.cluster.registry import Registry
from htagweb_asgi.cluster.settings import ClusterSettings, split_address
from htagweb_asgi.protocol import control
from htagweb_asgi.redisclient import RedisHealth, connect
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.pool import ProcessPool

logger = logging.getLogger(__name__)

RESUBSCRIBE = 1.0  # seconds between two attempts to subscribe while Redis is down


class Node:
    """One worker's view of the cluster (made by HtagASGI when clustered)."""

    def __init__(
        self,
        settings: ClusterSettings,
        sessions: Sessions,
        runtime_dir: str | None,
        health: RedisHealth | None = None,
        client: Any = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._runtime_dir = runtime_dir
        self.client = client or connect(settings.redis_url, settings.redis_timeout)
        self.health = health or RedisHealth(settings.redis_url)
        self.registry = Registry(self.client, self.health, settings)
        self.bus = Bus(self.client, self.health, settings.prefix)
        self.running = False
        self.heartbeats = 0
        self.forwarded = 0  # requests whose process another node owns (metrics)

    @classmethod
    def joining(
        cls, settings: ClusterSettings, sessions: Sessions, runtime_dir: str | None
    ) -> Node:
        """This worker's node, sharing the session store's Redis client when it has one; a
        logout through `sessions` then ends the session's processes on every node."""
        store = sessions.store
        health = getattr(store, "health", None)
        node = cls(settings, sessions, runtime_dir, health, getattr(store, "client", None))
        sessions.cluster = node.bus
        return node

    def problem(self) -> str | None:
        """What keeps this node from serving (for the readiness checks), or None."""
        if self.running:
            return None
        return (
            "this cluster node has not started: it needs the ASGI lifespan (run the server "
            "with lifespan on, or give HtagASGI.lifespan to your framework)"
        )

    @property
    def link_address(self) -> tuple[str, int]:
        return split_address(self.settings.listen_on)

    @property
    def link_key(self) -> bytes:
        """Derived from the session secret, which every node must share."""
        return bytes.fromhex(self.sessions.signer.process_key("\0cluster", "link"))

    @property
    def base(self) -> str:
        return self._runtime_dir or paths.default_base()

    # -- per request -------------------------------------------------------------------------
    async def place(self, pool: ProcessPool, app: str, key: str) -> Placed | LocalProcesses:
        """Where the process of `key` is. While Redis is down: this node's process if it has
        one (existing users keep working), and no new process."""
        try:
            owner = await anyio.to_thread.run_sync(self.registry.owner, key)
        except Exception:  # logged once per outage by RedisHealth
            return LocalProcesses(pool, None)
        placed = Placed(self, pool, app, key, owner)
        if placed.forwarded:
            self.forwarded += 1
        return placed

    # -- for the worker's lifetime ---------------------------------------------------------
    async def run(self, pools: Callable[[str], ProcessPool | None]) -> None:
        """Serve the link, beat, listen; until cancelled (the worker shuts down)."""
        listener = gateway.listen(self.settings.listen_on)
        self.running = True
        logger.info("cluster node %s: link on %s", self.settings.node, self.settings.listen_on)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    gateway.Gateway(self.link_key, self.settings.node, pools, self.registry).serve,
                    listener,
                )
                tasks.start_soon(self._beat)
                tasks.start_soon(self._listen)
        finally:
            self.running = False
            listener.close()
            self.bus.close()

    async def _beat(self) -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(self.beat_once)
            except Exception as exc:  # Redis down (logged once), or a template that stopped
                logger.debug("heartbeat failed: %s", exc)
            await anyio.sleep(self.settings.heartbeat)

    def beat_once(self) -> None:
        """One heartbeat: say we live, keep owning our processes, end the duplicates and
        the processes of sessions ended while we were not listening."""
        mine = f"node:{self.settings.node} "  # the label of this node's templates (registry.py)
        listings = [t for t in control.listings(self.base) if t["label"].startswith(mine)]
        processes = [p for t in listings for p in t["processes"]]
        summary = [{**t, "node": self.settings.node} for t in listings]
        lost = self.registry.heartbeat(summary, [p["full_key"] for p in processes])
        for key in lost:
            logger.warning("process %s… is owned by another node: ending ours", key[:8])
            control.kill(self.base, key)
        tags = sorted({str(p["session"]) for p in processes if p.get("session")})
        for tag in self.bus.ended(tags):
            control.end_session(self.base, tag)
        self.heartbeats += 1

    async def _listen(self) -> None:
        store = self.sessions.store
        invalidations = getattr(store, "invalidations", None)
        extra = [store.channel] if invalidations is not None else []  # type: ignore[attr-defined]
        while True:
            try:
                await anyio.to_thread.run_sync(self.bus.subscribe, *extra)
            except Exception:
                await anyio.sleep(RESUBSCRIBE)
                continue
            if invalidations is not None:
                invalidations.subscribed()
            try:
                while True:
                    message = await anyio.to_thread.run_sync(self.bus.receive, 1.0)
                    if message is not None:
                        await anyio.to_thread.run_sync(self._handle, *message, invalidations)
            except Exception as exc:
                logger.debug("the cluster subscription broke: %s", exc)
                await anyio.sleep(RESUBSCRIBE)

    def _handle(self, channel: str, message: Any, invalidations: Any) -> None:
        if channel != self.bus.channel:
            invalidations.changed(message)
            return
        answer = handle_control(
            message,
            lambda tag: control.end_session(self.base, tag),
            lambda match: control.kill(self.base, match),
        )
        if answer is not None:
            self.bus.answer(answer[0], self.settings.node, answer[1])
