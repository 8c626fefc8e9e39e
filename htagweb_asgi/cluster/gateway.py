"""This node's end of the link: other nodes reach the user processes it owns.

Every worker of the node listens on the link address (SO_REUSEPORT: the kernel spreads the
connections). A connection must authenticate first (link.py); then its OPEN names the App
(by its mount path) and the process key, and says what to do: reach the process (connect),
create it if needed (spawn), or kill it. For the first two, the answer is followed by the
process's own frames: the connection is spliced to the process's unix socket.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
from collections.abc import Callable
from typing import Any

import anyio

from htagweb_asgi.cluster.link import LINK_TIMEOUT
from htagweb_asgi.cluster.placement import rename_owned
from htagweb_asgi.cluster.registry import Registry
from htagweb_asgi.cluster.settings import split_address
from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.protocol.handshake import HANDSHAKE_FRAME, ServerHandshake
from htagweb_asgi.web.channel import Channel, ChannelClosed
from htagweb_asgi.web.pool import AppLoadError, PoolFull, PoolLimited, ProcessPool, UserChannel

logger = logging.getLogger(__name__)

_KEY_RE = re.compile(r"[0-9a-f]{32}")
_CHUNK = 256 * 1024
ACCEPT_BACKOFF = 0.1  # seconds without accepting after a failed accept (EMFILE)
PoolFinder = Callable[[str], "ProcessPool | None"]


def listen(address: str) -> socket.socket:
    """The link's listening socket, shared by the node's workers (SO_REUSEPORT)."""
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if sys.platform != "win32":  # Windows has no SO_REUSEPORT: one worker per node there
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(256)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Gateway:
    """Serves the link of this node: authenticate, then OPEN."""

    def __init__(
        self, key: bytes, me: str, pools: PoolFinder, registry: Registry | None = None
    ) -> None:
        self._key = key
        self._me = me
        self._pools = pools
        self._registry = registry

    async def serve(self, listener: socket.socket) -> None:
        """Accept connections until cancelled."""
        async with anyio.create_task_group() as tasks:
            while True:
                await anyio.wait_readable(listener)
                try:
                    conn, peer = listener.accept()
                except BlockingIOError:  # another worker took it
                    continue
                except OSError as exc:  # out of file descriptors: shed load, try again
                    logger.warning("the cluster link cannot accept: %s", exc)
                    await anyio.sleep(ACCEPT_BACKOFF)
                    continue
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                tasks.start_soon(self._serve_one, conn, peer)

    async def _serve_one(self, conn: socket.socket, peer: Any) -> None:
        channel = Channel(conn, max_frame=HANDSHAKE_FRAME)
        try:
            with anyio.fail_after(LINK_TIMEOUT):
                request = await self._authenticate(channel, peer)
            if request is not None:
                await self._open(channel, request)
        except (TimeoutError, OSError, ChannelClosed, ValueError, KeyError, TypeError) as exc:
            logger.info("a link from %s ended: %s", peer, exc)
        finally:
            await channel.aclose()

    async def _authenticate(self, channel: Channel, peer: Any) -> dict[str, Any] | None:
        if not await channel.prove(ServerHandshake(self._key, self._me)):
            logger.warning("refused a link from %s: it does not hold the cluster's secret", peer)
            return None
        kind, payload = await channel.receive()
        if kind is not Kind.OPEN:
            raise ValueError(f"expected OPEN, got {kind.name}")
        return dict(load_json(payload))

    async def _open(self, channel: Channel, request: dict[str, Any]) -> None:
        try:
            await self._carry_out(channel, request)
        except HtagwebError as exc:  # the App's template cannot start, or is unreachable
            if not channel.detached:
                await channel.send_json(Kind.FAIL, _failure(exc))

    async def _carry_out(self, channel: Channel, request: dict[str, Any]) -> None:
        op, key = request.get("op"), str(request.get("key", ""))
        pool = self._pools(str(request.get("app", "")))
        if pool is None or not _KEY_RE.fullmatch(key):
            await channel.send_json(Kind.FAIL, {"message": "no such App or process"})
            return
        process: UserChannel | None = None
        if op == "kill":
            await pool.kill(key, request.get("pid"))
            await channel.send_json(Kind.DONE, {})
            return
        if op == "rename":
            await self._rename(channel, pool, key, request)
            return
        if op == "connect":
            process = await pool.connect(key)
            await channel.send_json(Kind.DONE, {"found": process is not None})
        elif op == "spawn":
            process = await self._spawn(channel, pool, key, request)
        else:
            raise ValueError(f"unknown OPEN {op!r}")
        if process is not None:
            await splice(channel.detach(), process.detach())

    async def _spawn(
        self, channel: Channel, pool: ProcessPool, key: str, request: dict[str, Any]
    ) -> UserChannel | None:
        replace = request.get("replace_pid")
        process = await pool.spawn(
            key,
            int(replace) if replace is not None else None,
            str(request.get("session", "")),
            client=str(request.get("client", "")),
            mismatch=bool(request.get("mismatch")),
        )
        await channel.send_json(Kind.SPAWNED, {})
        return process

    async def _rename(
        self, channel: Channel, pool: ProcessPool, key: str, request: dict[str, Any]
    ) -> None:
        new_key, pid = str(request.get("new_key", "")), request.get("pid")
        if not _KEY_RE.fullmatch(new_key) or not (pid is None or isinstance(pid, int)):
            raise ValueError("a RENAME names a process key and a pid")
        session = str(request.get("session", ""))
        renamed = await rename_owned(pool, self._registry, key, pid, new_key, session)
        await channel.send_json(Kind.DONE, {"renamed": renamed})


def _failure(exc: HtagwebError) -> dict[str, Any]:
    """A FAIL answer that remote.py turns back into the same exception."""
    return {
        "message": str(exc),
        "full": isinstance(exc, PoolFull),
        "retry_after": exc.retry_after if isinstance(exc, PoolLimited) else None,
        "load_error": isinstance(exc, AppLoadError),
        "traceback": exc.traceback if isinstance(exc, AppLoadError) else "",
    }


async def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side ends; then close both."""
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_pump, a, b, tasks.cancel_scope)
            await _pump(b, a, tasks.cancel_scope)
    finally:
        for sock in (a, b):
            anyio.notify_closing(sock)
            sock.close()


async def _pump(src: socket.socket, dst: socket.socket, scope: anyio.CancelScope) -> None:
    try:
        while True:
            try:
                data = src.recv(_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(src)
                continue
            if not data:
                break
            view = memoryview(data)
            while view:
                try:
                    view = view[dst.send(view) :]
                except BlockingIOError:
                    await anyio.wait_writable(dst)
    except (OSError, anyio.ClosedResourceError):
        pass
    finally:
        scope.cancel()  # one side ended: the spliced pair ends
