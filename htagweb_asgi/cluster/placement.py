"""Where a user's process is, for one request: on this node, on its owner node over the
link, or taken over from an owner that is gone. What endpoints get has ProcessPool's
methods, whichever it is."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from htagweb_asgi.cluster.link import LinkRefused
from htagweb_asgi.cluster.registry import Owner, Registry
from htagweb_asgi.cluster.remote import RemotePool
from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.web.pool import ClusterUnavailable, PoolFull, ProcessPool, UserChannel

if TYPE_CHECKING:
    from htagweb_asgi.cluster.node import Node

logger = logging.getLogger(__name__)


class LocalProcesses:
    """The processes this node owns: new ones are counted by the cluster-wide cap."""

    def __init__(self, pool: ProcessPool, registry: Registry | None) -> None:
        self.pool = pool
        self._registry = registry  # None: Redis is down, no new process

    async def connect(self, key: str) -> UserChannel | None:
        return await self.pool.connect(key)

    async def spawn(
        self,
        key: str,
        replace_pid: int | None = None,
        session: str = "",
        *,
        client: str = "",
        mismatch: bool = False,
    ) -> UserChannel:
        if self._registry is None:
            raise ClusterUnavailable("Redis does not answer: no new process until it does")
        try:
            admitted = await anyio.to_thread.run_sync(self._registry.admit, key)
        except Exception as exc:
            raise ClusterUnavailable("Redis does not answer") from exc
        if not admitted:
            logger.warning("the cluster-wide cap on user processes is reached")
            raise PoolFull("the cluster has max_processes live user processes")
        return await self.pool.spawn(key, replace_pid, session, client=client, mismatch=mismatch)

    async def kill(self, key: str, pid: int | None) -> None:
        await self.pool.kill(key, pid)

    async def rename(self, key: str, pid: int | None, new_key: str, session: str) -> bool:
        return await rename_owned(self.pool, self._registry, key, pid, new_key, session)


async def rename_owned(
    pool: ProcessPool,
    registry: Registry | None,
    key: str,
    pid: int | None,
    new_key: str,
    session: str,
) -> bool:
    """Move process `pid` of `key` to `new_key` (its App rotated the session) on this node,
    its owner, and claim `new_key` at once: until the next heartbeat, another node asked for
    `new_key` would otherwise find no owner and start a second process."""
    if not await pool.rename(key, pid, new_key, session):
        return False
    if registry is not None:
        try:
            await anyio.to_thread.run_sync(registry.adopt, new_key)
        except Exception as exc:  # the heartbeat claims it when Redis answers again
            logger.warning("cannot claim the rotated process %s… yet: %s", new_key[:8], exc)
    return True


class Placed:
    """The process of one key: ours, or its owner's until that owner turns out gone."""

    def __init__(self, node: Node, pool: ProcessPool, app: str, key: str, owner: Owner) -> None:
        self._node = node
        self._pool = pool
        self._app = app
        self._key = key
        self.owner = owner
        self._where: Any = self._for(owner)

    def _for(self, owner: Owner) -> LocalProcesses | RemotePool:
        if owner.address is None:
            return LocalProcesses(self._pool, self._node.registry)
        return RemotePool(owner, self._app, self._node.link_key, self._node.settings.node)

    @property
    def forwarded(self) -> bool:
        return isinstance(self._where, RemotePool)

    async def connect(self, key: str) -> UserChannel | None:
        return await self._run("connect", key)  # type: ignore[no-any-return]

    async def spawn(
        self,
        key: str,
        replace_pid: int | None = None,
        session: str = "",
        *,
        client: str = "",
        mismatch: bool = False,
    ) -> UserChannel:
        return await self._run(  # type: ignore[no-any-return]
            "spawn", key, replace_pid, session, client=client, mismatch=mismatch
        )

    async def kill(self, key: str, pid: int | None) -> None:
        await self._run("kill", key, pid)

    async def rename(self, key: str, pid: int | None, new_key: str, session: str) -> bool:
        return await self._run("rename", key, pid, new_key, session)  # type: ignore[no-any-return]

    async def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._where, name)(*args, **kwargs)
        except LinkRefused:
            await self._take_over()
            return await getattr(self._where, name)(*args, **kwargs)

    async def _take_over(self) -> None:
        """The owner's link refuses connections: the owner node is gone (its processes with
        it). Own the key here, unless a third node took it first."""
        gone = self.owner.node
        try:
            owner = await anyio.to_thread.run_sync(self._node.registry.take_over, self._key, gone)
        except HtagwebError:
            raise
        except Exception as exc:
            raise ClusterUnavailable("Redis does not answer") from exc
        if owner is None:
            owner = await anyio.to_thread.run_sync(self._node.registry.owner, self._key)
        logger.info(
            "node %s is gone: the process of %s… is now on %s", gone, self._key[:8], owner.node
        )
        self.owner = owner
        self._where = self._for(owner)
