"""The user processes owned by another node, reached over the link, with ProcessPool's
methods: a page, websocket or POST that lands on the wrong node goes on unchanged."""

from __future__ import annotations

import logging
from typing import Any

from htagweb_asgi.cluster.link import LinkError, open_link
from htagweb_asgi.cluster.registry import Owner
from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.web.pool import AppLoadError, PoolError, PoolFull, PoolLimited, UserChannel

logger = logging.getLogger(__name__)


class OwnerUnreachable(PoolError):
    """Raised when the owner node's link does not answer in time (it may be overloaded or
    cut off): the user is asked to retry, and no second process is started."""


class RemotePool:
    """The processes of one App that node `owner` owns."""

    def __init__(self, owner: Owner, app: str, key: bytes, me: str) -> None:
        assert owner.address is not None
        self.owner = owner
        self._address = owner.address
        self._app = app
        self._key = key
        self._me = me

    async def _open(self, request: dict[str, Any]) -> tuple[UserChannel, Kind, Any]:
        try:
            return await open_link(
                UserChannel, self._address, self._key, self._me, {**request, "app": self._app}
            )
        except LinkError as exc:
            if type(exc) is LinkError:
                logger.warning("node %s does not answer: %s", self.owner.node, exc)
                raise OwnerUnreachable(f"node {self.owner.node} does not answer") from exc
            raise  # LinkRefused: the caller takes the process over

    async def connect(self, key: str) -> UserChannel | None:
        channel, kind, answer = await self._open({"op": "connect", "key": key})
        if kind is Kind.DONE and answer.get("found"):
            return channel
        await channel.aclose()
        return None

    async def spawn(
        self,
        key: str,
        replace_pid: int | None = None,
        session: str = "",
        *,
        client: str = "",
        mismatch: bool = False,
    ) -> UserChannel:
        request = {
            "op": "spawn",
            "key": key,
            "replace_pid": replace_pid,
            "session": session,
            "client": client,
            "mismatch": mismatch,
        }
        channel, kind, answer = await self._open(request)
        if kind is Kind.SPAWNED:
            return channel
        await channel.aclose()
        message = str((answer or {}).get("message", "the owner node failed"))
        if kind is Kind.FAIL and answer.get("full"):
            raise PoolFull(message)
        if kind is Kind.FAIL and answer.get("retry_after") is not None:
            raise PoolLimited(message, int(answer["retry_after"]))
        if kind is Kind.FAIL and answer.get("load_error"):
            raise AppLoadError(message, str(answer.get("traceback", "")))
        raise PoolError(message)

    async def rename(self, key: str, pid: int | None, new_key: str, session: str) -> bool:
        request = {"op": "rename", "key": key, "pid": pid, "new_key": new_key, "session": session}
        channel, kind, answer = await self._open(request)
        await channel.aclose()
        return kind is Kind.DONE and bool(answer.get("renamed"))

    async def kill(self, key: str, pid: int | None) -> None:
        try:
            channel, _, _ = await self._open({"op": "kill", "key": key, "pid": pid})
        except LinkError as exc:  # best effort, as a local kill
            logger.error(
                "cannot kill the process of %s… on node %s: %s", key[:8], self.owner.node, exc
            )
            return
        await channel.aclose()
