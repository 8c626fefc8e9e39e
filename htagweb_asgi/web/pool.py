"""How a worker reaches the user processes of one App: connect, spawn, replace, kill.

The worker keeps no table of processes: a user's process is the socket ``<key>.sock`` in the
App's runtime directory, whichever worker asked for it. Creating, replacing and killing go
through the App's template (see proc/supervisor.py), which serializes them. The first worker that
needs the template starts it under a file lock, so concurrent workers start exactly one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from subprocess import PIPE
from typing import Any

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from htagweb_asgi import paths
from htagweb_asgi.appref import AppRef
from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.config import TEMPLATE_MODULE, TemplateConfig
from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.web.channel import Channel, ChannelClosed
from htagweb_asgi.web.controlconns import ControlConnections
from htagweb_asgi.web.local import LocalAddresses
from htagweb_asgi.web.refusals import RefusalCache
from htagweb_asgi.web.workerstats import WorkerStats

logger = logging.getLogger(__name__)

_FAILURE_MEMORY = 10.0  # seconds a failed template start is reported without retrying


class PoolError(HtagwebError):
    """Raised when the App's processes cannot be reached or created."""


class AppLoadError(PoolError):
    """Raised when the template cannot import the App; carries the traceback for debug pages."""

    def __init__(self, message: str, traceback: str) -> None:
        super().__init__(message)
        self.traceback = traceback


class PoolFull(PoolError):
    """Raised when the App already has ``max_processes`` live user processes."""


class ClusterUnavailable(PoolError):
    """Raised in cluster mode when a new process is needed while Redis does not answer:
    without the registry, this node cannot know that no other node has the user's."""


class PoolLimited(PoolError):
    """Raised when the client's address may not start a process now (admission control:
    too fast, or it holds its share); `retry_after` says in how many seconds to retry."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PoolDraining(PoolError):
    """Raised when a new user process is asked of a draining worker (see drain.py)."""


ENDED_WAIT = 2.0  # seconds to learn from the template why a process ended


class UserChannel(Channel):
    """A channel to a user process; its first frame (HELLO) says which pid answered."""

    pid: int | None = None
    # False when a spawn started this process; True when it was there already (another
    # request's, or an earlier page's)
    existed = True

    async def hello(self) -> int:
        """The pid of the process, from its HELLO (ChannelClosed if it never says it)."""
        if self.pid is None:
            kind, payload = await super().receive()
            if kind is not Kind.HELLO:
                raise ChannelClosed(f"expected HELLO, got {kind.name}")
            self.pid = int(load_json(payload)["pid"])
        return self.pid

    async def receive(self) -> tuple[Kind, bytes]:
        await self.hello()
        return await super().receive()


class ProcessPool:
    """The user processes of one App under one server, as seen from this worker."""

    def __init__(
        self,
        app: AppRef,
        directory: str,
        config: TemplateConfig,
        start_timeout: float,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.directory = directory
        self.config = config
        self.start_timeout = start_timeout
        self._draining = draining
        self.stats = WorkerStats()  # this worker's counts for the metrics
        self._lease: Channel | None = None
        self._start_lock = anyio.Lock()
        self._failure: tuple[AppLoadError, float] | None = None
        self.refusals = RefusalCache()
        self.addresses = LocalAddresses(config)
        self._controls = ControlConnections(self._connect_control)

    def socket_path(self, key: str) -> str:
        """The file naming `key`'s process: its socket, or its port (portable path)."""
        return self.addresses.user(key)

    async def connect(self, key: str) -> UserChannel | None:
        """Return a channel to the live process of `key`, or None if it has none.

        The first use in this worker also takes a lease on the template, so the template
        knows this worker relies on its processes even if it never asks it anything.
        """
        await self._ensure_template()
        try:
            channel = await self.addresses.connect(UserChannel, self.socket_path(key))
        except OSError:  # no socket file, or nobody listening any more
            return None
        return channel

    async def spawn(
        self,
        key: str,
        replace_pid: int | None = None,
        session: str = "",
        *,
        client: str = "",
        mismatch: bool = False,
    ) -> UserChannel:
        """Return a channel to the process of `key`, creating it (or replacing `replace_pid`:
        `mismatch` when its page asked for other arguments, else it crashed).

        `session` tags a new process with its session (Sessions.tag), so that a logout can
        end it; `client` is the address admission control counts it against. Raises
        PoolLimited (the address may not start one now), PoolFull, PoolError, and
        PoolDraining while this worker drains: it starts no process.
        """
        if self._draining():
            raise PoolDraining("this worker is draining: it starts no user process")
        wait = self.refusals.retry_after(client)
        if wait is not None:
            raise PoolLimited("this address starts new processes too fast", wait)
        request = {
            "key": key,
            "replace_pid": replace_pid,
            "session": session,
            "client": client,
            "mismatch": mismatch,
        }
        reply = await self._spawn_request(request)
        channel = await self.connect(key)
        if channel is None and reply.get("existed"):
            # It was still in the template's table, but no longer listens: a process that
            # crashed a moment ago and is not reaped yet. Replace it.
            reply = await self._spawn_request({**request, "replace_pid": int(reply["pid"])})
            channel = await self.connect(key)
        if channel is None:
            raise PoolError("the new user process is not listening")
        channel.existed = bool(reply.get("existed"))
        return channel

    async def _spawn_request(self, request: dict[str, Any]) -> dict[str, Any]:
        kind, reply = await self._control(Kind.SPAWN, request)
        if kind is Kind.FAIL:
            message = str(reply["message"])
            if reply.get("full"):
                raise PoolFull(message)
            if reply.get("limited"):
                self.refusals.remember(str(request["client"]), float(reply.get("wait", 0.0)))
                raise PoolLimited(message, int(reply["retry_after"]))
            if reply.get("load_error"):  # a renewed template whose new code does not import
                raise AppLoadError(message.partition("\n")[0], message)
            raise PoolError(message)
        return dict(reply)

    async def kill(self, key: str, pid: int | None) -> None:
        """Kill the process of `key` if it is still `pid` (any when None); best effort: when
        the template cannot be reached, its user processes are ending with it anyway."""
        with anyio.CancelScope(shield=True):
            try:
                await self._control(Kind.KILL, {"key": key, "pid": pid})
            except PoolError as exc:
                logger.error("cannot kill the process of %s…: %s", key[:8], exc)

    async def rename(self, key: str, pid: int | None, new_key: str, session: str) -> bool:
        """Move the process `pid` of `key` to `new_key` (its session rotated), tagged with
        `session`; False when it is no longer `key`'s process."""
        request = {"key": key, "pid": pid, "new_key": new_key, "session": session}
        _, reply = await self._control(Kind.RENAME, request)
        return bool(reply.get("renamed"))

    async def listing(self) -> dict[str, Any]:
        """The template's view: its pid, how many workers hold a lease, its processes."""
        _, reply = await self._control(Kind.LIST, {})
        return dict(reply)

    async def status(self) -> dict[str, Any]:
        """The template's state, cheaply (for /_/readyz); starts the template if needed."""
        _, reply = await self._control(Kind.STATUS, {})
        return dict(reply)

    async def metrics(self) -> dict[str, Any] | None:
        """The template's METRICS (its processes, and every worker's series summed), or None
        when it does not run: a scrape never starts one."""
        async with self._start_lock:
            if self._lease is None and not await self._take_lease():
                return None
        _, reply = await self._control(Kind.METRICS, {})
        return dict(reply)

    async def why_ended(self, pid: int | None) -> dict[str, Any]:
        """Why the process `pid` ended, as its template classified it once reaped (its
        ``reason`` and, for a limit, the ``message`` for its user); {} when unknown in time."""
        if pid is None or self._lease is None:
            return {}
        with anyio.move_on_after(ENDED_WAIT):
            try:
                kind, reply = await self._control(Kind.ENDED, {"pid": pid})
            except PoolError:
                return {}
            return dict(reply) if kind is Kind.DONE and isinstance(reply, dict) else {}
        return {}

    async def close(self) -> None:
        """Drop this worker's lease, telling the template it may stop if nobody else uses it."""
        await self._controls.aclose()
        lease, self._lease = self._lease, None
        if lease is not None:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(ChannelClosed):
                    await lease.send(Kind.BYE)
                await lease.aclose()

    # -- template ------------------------------------------------------------------------------
    async def _control(self, kind: Kind, request: dict[str, Any]) -> tuple[Kind, Any]:
        for attempt in (1, 2):
            await self._ensure_template()
            try:
                return await self._controls.request(kind, request)
            except (OSError, ChannelClosed) as exc:
                logger.info("template of %s unreachable (%s), attempt %d", self.app, exc, attempt)
                await self._drop_lease()
        raise PoolError(f"the template of {self.app} does not answer")

    async def _connect_control(self) -> Channel:
        return await self.addresses.connect(Channel, self._control_path)

    @property
    def _control_path(self) -> str:
        return self.addresses.control

    async def _ensure_template(self) -> None:
        if self._lease is not None:
            return
        async with self._start_lock:
            if self._lease is not None:
                return
            if self._failure is not None and time.monotonic() - self._failure[1] < _FAILURE_MEMORY:
                raise self._failure[0]
            if not await self._take_lease():
                await self._start_under_file_lock()

    async def _start_under_file_lock(self) -> None:
        fd = await anyio.to_thread.run_sync(paths.lock_directory, self.directory)
        try:
            if await self._take_lease():
                return  # another worker started it while we waited for the lock
            try:
                await self._start_template()
            except AppLoadError as exc:
                self._failure = (exc, time.monotonic())
                os.close(fd)
                fd = -1
                # no template will remove the directory we created for it
                await anyio.to_thread.run_sync(
                    paths.remove_if_unused, self.directory, os.path.basename(self._control_path)
                )
                raise
            self._failure = None
            if not await self._take_lease():
                raise PoolError(f"the template of {self.app} started but does not answer")
        finally:
            if fd >= 0:
                os.close(fd)

    async def _take_lease(self) -> bool:
        try:
            lease = await self.addresses.connect(Channel, self._control_path)
        except OSError:
            return False
        try:
            await lease.send(Kind.LEASE)
        except ChannelClosed:
            await lease.aclose()
            return False
        self._lease = lease
        self.stats.attach(self.directory)  # a new template: it must find our file
        return True

    async def _drop_lease(self) -> None:
        self.addresses.forget_secret()
        await self._controls.aclose()  # the same template's, if it is gone
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.aclose()

    async def _start_template(self) -> None:
        command = [sys.executable, "-m", TEMPLATE_MODULE]
        logger.info("starting the template of %s in %s", self.app, self.directory)
        process = await anyio.open_process(
            command, stdin=PIPE, stdout=PIPE, stderr=None, start_new_session=True
        )
        if sys.platform == "win32":  # no fork to detach with: it lives on as our child
            line = await self._ready_line(process)
        else:
            async with process:  # it forked: the template lives on in its own session
                line = await self._ready_line(process)
        report = json.loads(line)
        if "error" in report:
            raise AppLoadError(report["error"], report.get("traceback", ""))

    async def _ready_line(self, process: anyio.abc.Process) -> bytes:
        """Send the configuration; return the template's report (AppLoadError if none)."""
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.send(self.config.to_json().encode() + b"\n")
        try:
            with anyio.fail_after(self.start_timeout):
                return await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 1 << 20)
        except (anyio.IncompleteRead, anyio.EndOfStream, anyio.DelimiterNotFound) as exc:
            raise AppLoadError(f"the template of {self.app} exited at start", "") from exc
        except TimeoutError as exc:
            process.kill()
            raise AppLoadError(f"the template of {self.app} took too long to start", "") from exc
