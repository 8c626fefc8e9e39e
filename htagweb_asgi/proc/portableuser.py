"""A user process on the portable path: ``python -m htagweb_asgi.proc.usermain --portable``.

Its template (proc/portable.py) gives it a listening socket on 127.0.0.1 and a spec on
stdin, and connects first: that connection, the *link*, proves itself with the one-time
token of the spec, then carries ASSIGN (our slot: we are a user's process now) and END
(why we end, instead of a signal); its end of stream means the template is gone, and we
stop (instead of PR_SET_PDEATHSIG). Every other connection is a worker's: it must prove
the template's secret (protocol/handshake.py), once we are assigned, under the name the
assignment gave us (the one our ``<key>.port`` holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import socket
import sys
from typing import Any

from htagweb_asgi import appref
from htagweb_asgi.proc import activity, applog, childlimits, osutil
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.endings import TOLD, End
from htagweb_asgi.proc.limiter import Placement
from htagweb_asgi.proc.user import Connection, UserApp
from htagweb_asgi.proc.usermain import run_with
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import TemplateConfig
from htagweb_asgi.protocol.frames import FrameError, Kind, encode_json, load_json
from htagweb_asgi.protocol.handshake import HANDSHAKE_FRAME, ServerHandshake

logger = logging.getLogger(__name__)

LINK_TIMEOUT = 30.0  # seconds for the template's link to arrive: else it is gone
PROOF_TIMEOUT = 5.0  # seconds a worker may take to prove the secret
FIRST = asyncio.FIRST_COMPLETED


class PortableUser:
    """The connections of one portable user process: the link, then the workers'."""

    def __init__(self, app: UserApp, secret: bytes, token: str) -> None:
        self.app = app
        self.secret = secret
        self.token = token
        self.linked = asyncio.Event()
        self.assigned = asyncio.Event()
        self.link: Connection | None = None
        self.ident = ""  # the name we prove ourselves under, given with the assignment

    async def serve(self, listener: socket.socket) -> None:
        """Serve until the template ends us or is gone."""
        server = await asyncio.start_server(self.connection, sock=listener)
        async with server:
            try:
                await asyncio.wait_for(self.linked.wait(), LINK_TIMEOUT)
            except TimeoutError:
                logger.warning("user process: no link from the template, stopping")
                return
            if not self.assigned.is_set():  # no user waiting for us already: warm up
                await self.app.engine.warm_up()
            if self.link is not None:  # we are up: the template may start the next one
                with contextlib.suppress(ConnectionError):
                    await self.link.send(encode_json(Kind.WARM, {}))
            await self.app.stopped.wait()
            server.close()  # no new connection while the open ones end
            await self.app.close()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._connection(reader, writer)
        except asyncio.CancelledError:
            # the process is ending (asyncio.run cancels what is left): the end of this task,
            # not an error for asyncio's stream callback to log
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(reader, writer)
        # The template speaks first (its token), a worker only once challenged: whichever
        # comes first, a frame or our assignment, says which this is.
        first = asyncio.ensure_future(conn.read(HANDSHAKE_FRAME))
        ready = asyncio.ensure_future(self.assigned.wait())
        done, _ = await asyncio.wait({first, ready}, timeout=LINK_TIMEOUT, return_when=FIRST)
        ready.cancel()
        if first in done:
            try:
                kind, payload = first.result()
            except (asyncio.IncompleteReadError, ConnectionError, FrameError):
                writer.close()
                return
            if kind is Kind.LEASE and self.link is None and self._is_token(payload):
                await self._follow_link(conn)
            else:
                writer.close()  # not the template, and speaking unasked: not ours
            return
        first.cancel()
        if not done or not await self._prove(conn):
            writer.close()
            return
        await self.app.serve_connection(reader, writer)

    async def _prove(self, conn: Connection) -> bool:
        """A worker's connection, once we are assigned: both sides prove the secret, we
        under the name our port file gives (a stale file never leads a worker to us)."""
        handshake = ServerHandshake(self.secret, f"{portable.USER_NAME}:{self.ident}")
        try:
            await conn.send(handshake.challenge())
            said = await asyncio.wait_for(conn.read(HANDSHAKE_FRAME), PROOF_TIMEOUT)
            answer = handshake.answer(*said)
            if answer is None:
                logger.warning("refused a connection that does not hold the secret")
                return False
            await conn.send(answer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, FrameError):
            return False
        return True

    def _is_token(self, payload: bytes) -> bool:
        try:
            said = str(load_json(payload).get("token", ""))
        except (FrameError, AttributeError):
            return False
        return hmac.compare_digest(said, self.token)

    async def _follow_link(self, conn: Connection) -> None:
        """The template's frames, until its end of stream: then we stop."""
        self.link = conn
        self.linked.set()
        try:
            while True:
                kind, payload = await conn.read(HANDSHAKE_FRAME)
                said: dict[str, Any] = load_json(payload)
                if kind is Kind.ASSIGN:
                    self.ident = str(said["id"])
                    self.app.slot = int(said["slot"])
                    self.app.board.touch(self.app.slot)
                    self.assigned.set()
                elif kind is Kind.END:
                    self._end(End(said["why"]))
        except (asyncio.IncompleteReadError, ConnectionError, FrameError, ValueError, KeyError):
            pass
        self.app.stopped.set()  # the template is gone (or broke the protocol): stop now

    def _end(self, end: End) -> None:
        if end in TOLD:
            code, reason = TOLD[end]
            self.app.end_soon(code, reason)
        else:
            self.app.stopped.set()


def main() -> None:
    """Read the spec on stdin, load the App, serve (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a console's Ctrl+C is the server's
    spec = json.loads(sys.stdin.readline())
    childlimits.enter(Placement(**spec["placement"]))
    config = TemplateConfig.from_json(spec["config"])
    sys.path[:] = config.sys_path
    osutil.configure_logging(config.log_level)
    app_class = appref.load(config.app)
    applog.install()
    if sys.platform == "win32":
        listener = socket.fromshare(bytes.fromhex(spec["socket"]))
    else:
        listener = socket.socket(fileno=int(spec["fd"]))
    slots = int(spec["slots"])
    board = ActivityBoard(slots, fd=activity.shared_file(spec["board"], slots, create=False))
    secret, token = bytes.fromhex(spec["secret"]), str(spec["token"])

    async def serve(app: UserApp) -> None:
        await PortableUser(app, secret, token).serve(listener)

    run_with(app_class, config.process_settings(), board, serve)
