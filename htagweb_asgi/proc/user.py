"""A user process: one htag App for one (session, App), served over a local socket.

The process starts blank (forked from its App's template) and listens on a socket the template
bound for it. The host opens one connection per page load, websocket or HTTP interaction:

- PAGE creates the App for the page request, or says MISMATCH when the live one cannot serve
  it (htag 1: other init arguments; htag 2: ``?n``): the host then replaces this process;
- ATTACH binds a connection to the App instance its page was rendered from (a page rendered
  by an earlier process gets GONE and reloads); a subscribed connection receives pushes,
  first those its page missed (delivery.py);
- INTERACT runs one interaction; interactions run one at a time, whatever their connection.
  An interaction the page numbered is run once: a resend gets the answer of the first run
  (replies.py), on whichever connection it comes. With ``parano`` (an ATTACH says so)
  interactions, replies and pushes are encrypted envelopes only this process and the page
  can open (see parano/link.py); a remembered reply is sealed afresh for the connection
  that asks.

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
from htagweb_asgi.proc.delivery import Delivery, Subscriber
from htagweb_asgi.proc.engine import GENERIC_ERROR, AppEngine, CreationFailed, Engine
from htagweb_asgi.proc.once import Once
from htagweb_asgi.proc.pagewire import InteractionId, page_token, reply_message, unwrap
from htagweb_asgi.proc.replies import Answer
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

    async def read(self, max_frame: int) -> tuple[Kind, bytes]:
        kind, size = parse_header(await self.reader.readexactly(HEADER_SIZE), max_frame)
        return kind, await self.reader.readexactly(size) if size else b""

    def write(self, frame: bytes) -> None:
        """Queue `frame` (no await: what is written together stays together and in order).
        ConnectionResetError once the host closed the connection: uvloop would raise a
        RuntimeError there (asyncio ignores the write), which no caller expects."""
        if self.writer.is_closing():
            raise ConnectionResetError("the host closed this connection")
        self.writer.write(frame)

    async def drain(self) -> None:
        await self.writer.drain()

    async def send(self, frame: bytes) -> None:
        self.write(frame)
        await self.drain()


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
        self.delivery = Delivery(self.full_rendering)
        self.once = Once()  # numbered interactions: run once, resends answered from memory
        self.parano_sessions = HttpSessions()  # the keys of parano pages that POST
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
            self.delivery.unsubscribe(conn)
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
                pushed = self.delivery.log.seq  # the page has every push up to this one
            except Exception:
                logger.exception("rendering the page failed")
                detail = traceback.format_exc() if self.settings.debug else GENERIC_ERROR
                await conn.send(encode_json(Kind.FAIL, {"message": detail}))
                return
            problem = await self.send_session_changes(conn)
            if problem:
                logger.error("session not saved: %s", problem)
        header = {"instance": self.instance, "pid": os.getpid(), "htag": self.app.htag}
        header["push"] = pushed
        # "replace": an App may hold text that cannot be encoded (a lone surrogate); the
        # page shows "?" there rather than failing to load.
        page = f"{json.dumps(header)}\n{html}".encode("utf-8", "replace")
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
        open_now = self.delivery.subscribed  # websockets and event streams
        if subscribe and open_now >= self.settings.max_websockets:
            logger.info("refused a page connection: %d already open", open_now)
            reason = (
                "Too many open connections to this page (tabs of this application in this "
                "browser): close some, then reload."
            )
            await conn.send(encode_json(Kind.REJECT, {"code": Close.TOO_MANY, "reason": reason}))
            return
        conn.attached = True
        self.board.attached(self.slot, +1)
        if request.get("parano"):
            conn.parano = ParanoLink(self.parano_sessions, websocket=subscribe)
        conn.write(encode_json(Kind.OK, {"pid": os.getpid()}))
        if subscribe:
            resume = request.get("resume")
            if not isinstance(resume, int) or isinstance(resume, bool):
                resume = None  # a bare client: pushes from now on, htag's own payloads only
            page = page_token(request.get("page"))
            subscriber = self.delivery.subscribe(conn, page, resume)
            if conn.parano is None:  # else after the key agreement: nothing goes out in clear
                await self.start(subscriber)
        await conn.drain()

    async def start(self, subscriber: Subscriber) -> None:
        """Pushes start for a page: the App says it is attached (htag 2 starts its on_mount
        generators, and gives what it kept for a bare client), then, with no await in
        between, the page gets what it missed: nothing overtakes it."""
        assert self.app is not None  # an attached connection has an App
        first = await self.app.attached()
        self.delivery.start(subscriber, first)

    async def interact(self, conn: Connection, payload: bytes) -> None:
        try:
            if conn.parano is not None:
                if conn.parano.is_handshake(payload):
                    conn.write(encode(Kind.REPLY, conn.parano.handshake(payload)))
                    subscriber = self.delivery.subscriber(conn)
                    if subscriber is not None and not subscriber.started:
                        await self.start(subscriber)
                    await conn.drain()
                    return
                payload = conn.parano.open(payload)
            iid, message = unwrap(payload)
        except Rejected as exc:
            await conn.send(encode_json(Kind.REJECT, {"code": exc.code, "reason": exc.reason}))
            return
        answer, replayed = await self.answer(iid, message)
        if replayed:
            self.board.touch(self.slot)  # the page is there: as much activity as a first run
            if answer.changes:
                self.session.restore(answer.changes)  # should a refresh have undone them
        rotate = answer.rotated and not replayed  # the first run's delivery rotates, once
        await self.send_answer(conn, iid, answer, rotate)
        if rotate:
            await self.end_other_pages(conn, iid.page if iid else None)
        if self.exit_requested:
            await self.end(Close.EXITED, "the application exited")

    async def answer(self, iid: InteractionId | None, message: bytes) -> tuple[Answer, bool]:
        """Run the interaction, or give the answer of its first run; True when replayed."""
        if iid is None:  # a bare client: no id to know a resend by
            return await self.run(None, message), False
        return await self.once.answer(
            iid, lambda: self.run(iid, message), lambda: self.rerendered(iid.page)
        )

    async def rerendered(self, page: str) -> Answer:
        """The answer to a resend whose reply is no longer kept: the App as it is now."""
        async with self.busy:
            return Answer(self.full_rendering(), self.delivery.log.last_for(page))

    async def run(self, iid: InteractionId | None, message: bytes) -> Answer:
        """Run one interaction in the App, and share its effect with the other pages."""
        assert self.app is not None  # an attached connection has an App
        async with self.busy:
            self.board.touch(self.slot)
            self.budget.arm()  # cpu_limit: each interaction has its own
            try:
                reply = await self.app.interact(message)
            except MemoryError:
                memory_exhausted()  # ends the process: its user is told (LIMIT)
            except Rejected as exc:
                refusal = json.dumps({"code": exc.code, "reason": exc.reason}).encode()
                return Answer(refusal, 0, refused=True)
            self.board.interacted(self.slot)
            changes, problem = self.take_session_changes()
            if problem:  # it names a key, not a secret: shown whatever `debug` says
                reply = self.app.report(reply, problem)
            rotated = self.rotation_due()
            page = iid.page if iid else None
            after = self.delivery.log.last_for(page)
            await self.share_effect(reply, page)
        return Answer(reply, after, changes or None, rotated=rotated)

    async def share_effect(self, reply: bytes, page: str | None) -> None:
        """Give the App's other pages (tabs) what this interaction changed: rendered when one
        is there to take it, else a mark that has them re-render the App when they come."""
        assert self.app is not None
        if not self.app.changed(reply):
            return
        if not self.delivery.others_watching(page):
            await self.delivery.push(None, origin=page, echo=True)
            return
        effect = self.app.effect(reply)
        if effect is not None:
            await self.delivery.push(effect, origin=page, echo=True)

    async def send_answer(
        self, conn: Connection, iid: InteractionId | None, answer: Answer, rotate: bool = False
    ) -> None:
        """CHANGES (stored before the page sees the effect), ROTATE when the App rotated the
        session (the host gives it a new id), then the REPLY; or the REJECT."""
        if answer.refused:
            await conn.send(encode(Kind.REJECT, answer.data))
            return
        reply = answer.data if iid is None else reply_message(iid, answer.after, answer.data)
        if answer.changes:
            conn.write(encode_json(Kind.CHANGES, answer.changes))
        if rotate:
            conn.write(encode_json(Kind.ROTATE, {}))
        if conn.parano is not None:
            reply = conn.parano.seal(reply)  # sealed and written with no await between: in order
        await conn.send(encode(Kind.REPLY, reply))

    def full_rendering(self) -> bytes:
        """What re-renders the whole App in its page (htag's own payload)."""
        assert self.app is not None  # only attached pages ask for it
        return self.app.full_rendering()

    def take_session_changes(self) -> tuple[dict[str, str | None], str | None]:
        """What the App changed in the session since the last exchange, and why a change
        could not be kept (refused or undone), or None."""
        refused, self.session.refused = self.session.refused, None
        try:
            return self.session.take_changes(self.settings.max_session), refused
        except SessionValueError as exc:
            return {}, str(exc)

    async def send_session_changes(self, conn: Connection) -> str | None:
        """Send what the App changed in the session (before the reply, so the store has it
        first); return why a change could not be kept (refused or undone), or None."""
        changes, problem = self.take_session_changes()
        if changes:
            await conn.send(encode_json(Kind.CHANGES, changes))
        if self.rotation_due():  # the App rotated the session as it was created
            await conn.send(encode_json(Kind.ROTATE, {}))
            await self.end_other_pages(conn, None)
        return problem

    def rotation_due(self) -> bool:
        """Whether the App called ``session.rotate()`` since the last exchange (once)."""
        asked, self.session.rotation_asked = self.session.rotation_asked, False
        return asked

    async def end_other_pages(self, conn: Connection, page: str | None) -> None:
        """After a ROTATE on `conn` (the host behind it gives the session a new id, and this
        process the new id's key): the other connections still speak for the old id, which
        has ended, so their pages reload, with the new cookie. The event stream of `page`
        itself (the page that rotated, over POST) stays: that page goes on."""
        ending = encode_json(
            Kind.END, {"code": Close.NO_PROCESS, "reason": "the session changed (login)"}
        )
        for other in [c for c in self.connections if c is not conn]:
            subscriber = self.delivery.subscriber(other)
            if page is not None and subscriber is not None and subscriber.page == page:
                continue
            self.delivery.unsubscribe(other)
            self.connections.discard(other)
            with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
                await asyncio.wait_for(other.send(ending), 1.0)
            other.writer.close()

    async def push(self, data: bytes) -> bool:
        """What the App pushes (``tag.update()``): numbered and kept for the pages that come
        back (delivery.py), sent to the attached ones. False when no page took it now (none
        attached, or none with its key agreement done yet): htag 2 then also keeps it for
        the next reply, the only way it reaches a page that POSTs with no event stream."""
        return await self.delivery.push(data) > 0

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
            # ConnectionError too when its worker closed it while we told the others (see
            # Connection.write: uvloop would raise RuntimeError there)
            with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
                await asyncio.wait_for(conn.send(frame), 1.0)
        self.stopped.set()
