"""A user process: one htag App for one (session, App), served over a local socket.

The process starts blank (forked from its App's template) and listens on a socket the template
bound for it. The host opens one connection per page load, websocket or HTTP interaction:

- PAGE creates the App for the page request, or says MISMATCH when the live one cannot serve
  it (htag 1: other init arguments; htag 2: ``?n``): the host then replaces this process;
- ATTACH binds a connection to the App instance its page was rendered from (a page rendered
  by an earlier process gets GONE and reloads); a subscribed connection receives pushes;
- INTERACT runs one interaction; interactions run one at a time, whatever their connection.
  With ``parano`` (an ATTACH says so) interactions, replies and pushes are encrypted envelopes
  only this process and the page can open (see parano/link.py).

The App is driven through an engine (engine.py): htag 1's or htag 2's, whichever this
environment has. This module runs asyncio on purpose: htag apps use asyncio directly
(``asyncio.sleep``, ``create_task``), whatever loop the web server itself runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import traceback
from typing import Any

from htagweb_asgi.parano.link import HttpSessions, ParanoLink
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.childlimits import CpuBudget, memory_exhausted
from htagweb_asgi.proc.engine import GENERIC_ERROR, AppEngine, CreationFailed, Engine
from htagweb_asgi.protocol.codes import Close, Rejected
from htagweb_asgi.protocol.config import ProcessSettings
from htagweb_asgi.protocol.frames import (
    HEADER_SIZE,
    FrameError,
    Kind,
    encode,
    encode_json,
    parse_header,
)
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.sessions.values import ProcessSession, SessionValueError

logger = logging.getLogger(__name__)


class Connection:
    """One framed connection from the host."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.attached = False
        self.parano: ParanoLink | None = None  # an App with parano: this connection's keys
        self.greet = False  # parano websocket: give it the App's first words after the handshake

    async def read(self, max_frame: int) -> tuple[Kind, bytes]:
        kind, size = parse_header(await self.reader.readexactly(HEADER_SIZE), max_frame)
        return kind, await self.reader.readexactly(size) if size else b""

    async def send(self, frame: bytes) -> None:
        self.writer.write(frame)
        await self.writer.drain()


class UserApp:
    """The App of one user and the connections that reach it."""

    def __init__(
        self,
        app_class: type,
        settings: ProcessSettings,
        board: ActivityBoard,
        slot: int,
        engine: Engine,
    ) -> None:
        self.app_class = app_class
        self.settings = settings
        self.board = board
        self.slot = slot
        self.engine = engine
        self.app: AppEngine | None = None
        self.instance = ""
        self.session = ProcessSession()
        self.subscribers: set[Connection] = set()
        self.parano_sessions = HttpSessions()  # the keys of http_only parano pages
        self.connections: set[Connection] = set()
        self.busy = asyncio.Lock()
        self.budget = CpuBudget(settings.cpu_limit)  # re-armed at each interaction
        self.exit_requested = False
        self.stopped = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()  # connections, and ends started by signals

    def end_soon(self, code: Close, reason: str) -> None:
        """Run end() in a task we keep a reference to until it is done."""
        task = asyncio.get_running_loop().create_task(self.end(code, reason))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- connections -------------------------------------------------------------------------
    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = Connection(reader, writer)
        self.connections.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            await conn.send(encode_json(Kind.HELLO, {"pid": os.getpid()}))
            while not self.stopped.is_set():
                kind, payload = await conn.read(self.settings.max_frame)
                if not await self.dispatch(conn, kind, payload):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the host closed this connection: a page left or a request ended
        except FrameError as exc:
            logger.warning("closing a host connection that broke the protocol: %s", exc)
        except asyncio.CancelledError:
            # close() ended it. The connection's task ends here, not cancelled: asyncio
            # (3.11, 3.12) logs a server's connection task that ends cancelled as an error,
            # with a traceback, once per page connected when the process stops.
            pass
        finally:
            self.connections.discard(conn)
            self.subscribers.discard(conn)
            if conn.attached:
                self.board.attached(self.slot, -1)
            writer.close()
            if task is not None:
                self.tasks.discard(task)

    async def close(self) -> None:
        """Stop serving: close every connection, and end the tasks still working for one
        (cancelled, and awaited: nothing is left pending when the loop closes). Then the App
        runs its end hook (htag 2's on_destroy): the process ends in a way that lets it."""
        for conn in list(self.connections):
            conn.writer.close()
        tasks = [task for task in self.tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        app, self.app = self.app, None
        if app is not None:
            await app.destroy()

    async def dispatch(self, conn: Connection, kind: Kind, payload: bytes) -> bool:
        """Handle one frame; return False to end the connection."""
        if kind is Kind.INTERACT:
            if conn.attached:  # else a pipelined interaction of a refused page: dropped
                await self.interact(conn, payload)
            return True
        if kind is Kind.SESSION:
            self.session.refresh(json.loads(payload))
            return True
        if kind is Kind.PAGE:
            await self.page(conn, PageRequest.from_json(json.loads(payload)))
            return True
        if kind is Kind.ATTACH:
            await self.attach(conn, json.loads(payload))
            return True
        logger.warning("unexpected %s frame from the host", kind.name)
        return False

    # -- requests ----------------------------------------------------------------------------
    async def page(self, conn: Connection, request: PageRequest) -> None:
        async with self.busy:
            self.board.touch(self.slot)
            if self.app is None:
                self.budget.arm()
                try:
                    self.app = self.create(request)
                except MemoryError:
                    memory_exhausted()
                except CreationFailed as exc:
                    detail = str(exc) if self.settings.debug else GENERIC_ERROR
                    await conn.send(encode_json(Kind.FAIL, {"message": detail, "ended": True}))
                    self.stopped.set()  # the next page load starts from scratch
                    return
            elif not self.app.serves(request):  # a new App serves the page it was made for
                await conn.send(encode_json(Kind.MISMATCH, {"pid": os.getpid()}))
                return
            try:
                html = self.app.render(request)
            except Exception:
                logger.exception("rendering the page failed")
                detail = traceback.format_exc() if self.settings.debug else GENERIC_ERROR
                await conn.send(encode_json(Kind.FAIL, {"message": detail}))
                return
            problem = await self.send_session_changes(conn)
            if problem:
                logger.error("session not saved: %s", problem)
        header = json.dumps({"instance": self.instance, "pid": os.getpid(), "htag": self.app.htag})
        # "replace": an App may hold text that cannot be encoded (a lone surrogate); the
        # page shows "?" there rather than failing to load.
        page = f"{header}\n{html}".encode("utf-8", "replace")
        await conn.send(encode(Kind.HTML, page))
        if self.exit_requested:
            await self.end(Close.EXITED, "the application exited")

    def create(self, request: PageRequest) -> AppEngine:
        """Build the App (CreationFailed when its constructor raised)."""
        app = self.engine.create(
            self.app_class,
            request,
            debug=self.settings.debug,
            session=self.session,
            push=self.push,
            on_exit=self.request_exit,
        )
        self.instance = secrets.token_hex(16)
        return app

    async def attach(self, conn: Connection, request: dict[str, Any]) -> None:
        """Bind `conn` to the renderer its page came from; the host closes it on GONE, and
        on REJECT when this page already holds max_websockets."""
        if self.app is None or request.get("instance") != self.instance:
            reason = "this page belongs to an ended process"
            await conn.send(encode_json(Kind.GONE, {"reason": reason}))
            return
        subscribe = bool(request.get("subscribe"))
        websockets = len(self.subscribers) + sum(1 for c in self.connections if c.greet)
        if subscribe and websockets >= self.settings.max_websockets:
            logger.info("refused a websocket: %d already open", websockets)
            reason = (
                "Too many open connections to this page (tabs of this application in this "
                "browser): close some, then reload."
            )
            await conn.send(encode_json(Kind.REJECT, {"code": Close.TOO_MANY, "reason": reason}))
            return
        conn.attached = True
        self.board.attached(self.slot, +1)
        websocket = subscribe
        if request.get("parano"):
            conn.parano = ParanoLink(self.parano_sessions, websocket=websocket)
        await conn.send(encode_json(Kind.OK, {"pid": os.getpid()}))
        if websocket:
            conn.greet = conn.parano is not None  # nothing in clear: after the key agreement
            if not conn.greet:
                await self.greet(conn)

    async def greet(self, conn: Connection) -> None:
        """Subscribe a websocket page to pushes, first giving it what the App rendered while
        no page could take it (htag 2), with no await in between: nothing overtakes it."""
        conn.greet = False
        assert self.app is not None  # an attached connection has an App
        first = await self.app.attached()
        self.subscribers.add(conn)
        if first is not None:
            await conn.send(encode(Kind.PUSH, conn.parano.seal(first) if conn.parano else first))

    async def interact(self, conn: Connection, payload: bytes) -> None:
        try:
            if conn.parano is not None:
                if conn.parano.is_handshake(payload):
                    await conn.send(encode(Kind.REPLY, conn.parano.handshake(payload)))
                    if conn.greet:
                        await self.greet(conn)
                    return
                payload = conn.parano.open(payload)
            assert self.app is not None  # an attached connection has an App
            async with self.busy:
                self.board.touch(self.slot)
                self.budget.arm()
                try:
                    reply = await self.app.interact(payload)
                except MemoryError:
                    memory_exhausted()
                self.board.interacted(self.slot)
                problem = await self.send_session_changes(conn)
        except Rejected as exc:
            await conn.send(encode_json(Kind.REJECT, {"code": exc.code, "reason": exc.reason}))
            return
        if problem:  # it names a key, not a secret: shown whatever `debug` says
            reply = self.app.report(reply, problem)
        if conn.parano is not None:
            reply = conn.parano.seal(reply)  # sealed and written with no await between: in order
        await conn.send(encode(Kind.REPLY, reply))
        if self.exit_requested:
            await self.end(Close.EXITED, "the application exited")

    async def send_session_changes(self, conn: Connection) -> str | None:
        """Send what the App changed in the session (before the reply, so the store has it
        first); return why a change could not be kept (refused or undone), or None."""
        refused, self.session.refused = self.session.refused, None
        try:
            changes = self.session.take_changes(self.settings.max_session)
        except SessionValueError as exc:
            return str(exc)
        if changes:
            await conn.send(encode_json(Kind.CHANGES, changes))
        if self.session.rotation_asked:
            self.session.rotation_asked = False
            await self.rotate(conn)
        return refused

    async def rotate(self, conn: Connection) -> None:
        """The App called ``session.rotate()``: the host behind `conn` gives the session a new
        id (and this process the new id's key). The other connections still speak for the
        old id, which has ended: their pages reload, with the new cookie."""
        await conn.send(encode_json(Kind.ROTATE, {}))
        ending = encode_json(
            Kind.END, {"code": Close.NO_PROCESS, "reason": "the session changed (login)"}
        )
        for other in [c for c in self.connections if c is not conn]:
            self.subscribers.discard(other)
            self.connections.discard(other)
            with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
                await asyncio.wait_for(other.send(ending), 1.0)
            other.writer.close()

    async def push(self, data: bytes) -> bool:
        """What the App pushes (``tag.update()``) to every subscribed page; False when no
        page took it (none subscribed, or none with its key agreement done yet)."""
        delivered = False
        for conn in list(self.subscribers):
            if conn.parano is None:
                frame = encode(Kind.PUSH, data)
            elif conn.parano.can_push:  # each page its own keys; sealed and written at once
                frame = encode(Kind.PUSH, conn.parano.seal(data))
            else:
                continue  # no key agreement yet: nothing goes out in clear
            try:
                await conn.send(frame)
                delivered = True
            except ConnectionError:
                self.subscribers.discard(conn)
        return delivered

    # -- ending ------------------------------------------------------------------------------
    def request_exit(self) -> None:
        """``tag.exit()``: end after the current interaction's reply (or now, from a task)."""
        self.exit_requested = True
        if not self.busy.locked():
            self.end_soon(Close.EXITED, "the application exited")

    async def end(self, code: Close, reason: str) -> None:
        """Tell every connection why the process ends, then stop."""
        frame = encode_json(Kind.END, {"code": code, "reason": reason})
        for conn in list(self.connections):
            with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
                await asyncio.wait_for(conn.send(frame), 1.0)
        self.stopped.set()
