"""The template's loop: serve workers' requests, hold their leases, supervise user processes.

One synchronous ``selectors`` loop in a single thread, so forking from it is safe and every
decision about a key is serialized: two workers asking at once for the same (session, App)
get the same process. Workers talk to it over ``template.sock`` with framed JSON requests.

Each worker that uses the App holds a *lease* connection. When none is left (the last worker
said goodbye, or the kernel closed the sockets of SIGKILLed workers), the template asks
whether the server still accepts connections on its listening address: a worker restart
(gunicorn --max-requests, a SIGKILLed worker) leaves the server listening, and the template
keeps serving; a stopped or killed server does not, and the template stops its user
processes and removes its files.

When the App's source changes, the next new user triggers a *renewal*: the template re-execs
itself (same pid, same control socket, same children, same leases) to import the new code.
"""

from __future__ import annotations

import json
import logging
import os
import re
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, NoReturn

from . import osutil, runtime
from .activity import ActivityBoard
from .children import EVICT, UserProcesses
from .framing import FrameDecoder, FrameError, Kind, encode_json, load_json
from .sourcewatch import SourceWatch

if TYPE_CHECKING:
    from .template import TemplateConfig

logger = logging.getLogger(__name__)

KEY_RE = re.compile(r"[0-9a-f]{32}")
CONTROL_SOCKET = "template.sock"
SPARE_DELAY = 0.02  # seconds of quiet before starting a spare process
RESUME = "from htagweb_asgi.template import resume; resume()"


class Supervisor:
    """Owns the user processes of one App (see the module docstring)."""

    def __init__(
        self,
        config: TemplateConfig,
        app_class: type | None,
        control: socket.socket,
        board: ActivityBoard,
        *,
        load_error: str = "",
        liveness: tuple[int, int] | None = None,
    ) -> None:
        self.config = config
        self.app_class = app_class
        self.load_error = load_error  # why app_class is None (a renewal that failed to import)
        self.control = control
        self.board = board
        self.selector = selectors.DefaultSelector()
        self.connections: dict[socket.socket, FrameDecoder] = {}
        self.leases: set[socket.socket] = set()
        self.lease_lost_at: float | None = time.monotonic()
        self.stopping = False
        self.liveness_r, self.liveness_w = liveness or os.pipe()  # EOF in children when we die
        self.wakeup_r, self.wakeup_w = os.pipe()
        self.watch = SourceWatch.of(config.app)
        self.processes = UserProcesses(
            config, app_class or object, board, self.liveness_r, self._close_in_child
        )
        osutil.raise_fd_limit()

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self._install_signals()
        self.selector.register(self.control, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, self._drain_wakeup)
        logger.info("template of %s ready (pid %d)", self.config.app, os.getpid())
        while not self.stopping:
            events = self.selector.select(self._next_timeout())
            for key, _ in events:
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
            self.processes.reap()
            self.processes.check_deadlines()
            self._check_leases()
            if not events and self.app_class is not None:
                # Only once nothing happened for SPARE_DELAY: a fork now would compete for
                # the CPU with the page the last new user is waiting for.
                self.processes.spares.replenish()
        self._shutdown()

    def _install_signals(self) -> None:
        for fd in (self.wakeup_r, self.wakeup_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl+C is not ours

    def _on_stop_signal(self, *_: object) -> None:
        self.stopping = True

    def _drain_wakeup(self, _: object) -> None:
        try:
            while os.read(self.wakeup_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _next_timeout(self) -> float | None:
        deadlines = [self.processes.next_deadline()]
        if self.lease_lost_at is not None:
            deadlines.append(self.lease_lost_at + self.config.lease_grace)
        known = [deadline for deadline in deadlines if deadline is not None]
        timeout = max(0.0, min(known) - time.monotonic()) if known else None
        if self.app_class is not None and self.processes.spares.due():
            timeout = SPARE_DELAY if timeout is None else min(timeout, SPARE_DELAY)
        return timeout

    def _close_in_child(self) -> None:
        """What a forked user process must not inherit from us."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        self.selector.close()
        for conn in [self.control, *self.connections]:
            conn.close()
        for fd in (self.wakeup_r, self.wakeup_w, self.liveness_w):
            os.close(fd)

    # -- control connections ------------------------------------------------------------------
    def _accept(self, _: object) -> None:
        conn, _addr = self.control.accept()
        self._register(conn)

    def _register(self, conn: socket.socket) -> None:
        conn.settimeout(5.0)  # sends are small; never let one slow worker stall the template
        self.connections[conn] = FrameDecoder()
        self.selector.register(conn, selectors.EVENT_READ, self._readable)

    def _readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
            frames = self.connections[conn].feed(data) if data else None
        except (OSError, FrameError) as exc:
            logger.warning("dropping a control connection: %s", exc)
            frames = None
        if frames is None:
            self._drop(conn)
            return
        for kind, payload in frames:
            try:
                self._handle(conn, kind, payload)
            except (OSError, FrameError, ValueError, KeyError, TypeError) as exc:
                logger.warning("bad %s request from a worker: %s", kind.name, exc)
                self._drop(conn)
                return

    def _drop(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        del self.connections[conn]
        self.leases.discard(conn)
        conn.close()

    def _handle(self, conn: socket.socket, kind: Kind, payload: bytes) -> None:
        if kind is Kind.LEASE:
            self.leases.add(conn)
            self.lease_lost_at = None
        elif kind is Kind.BYE:
            self.leases.discard(conn)
            if not self.leases:  # ask the server at once: a stop, or a worker restart?
                self.lease_lost_at = time.monotonic() - self.config.lease_grace
        elif kind is Kind.SPAWN:
            request = load_json(payload)
            conn.sendall(self._spawn(conn, request))
        elif kind is Kind.KILL:
            request = load_json(payload)
            conn.sendall(encode_json(Kind.DONE, {"killed": self._kill(request)}))
        elif kind is Kind.LIST:
            conn.sendall(encode_json(Kind.LISTING, self._listing()))
        else:
            raise ValueError(f"unexpected {kind.name}")

    def _spawn(self, conn: socket.socket, request: dict[str, Any]) -> bytes:
        key, replace_pid = str(request["key"]), request.get("replace_pid")
        if not KEY_RE.fullmatch(key):
            raise ValueError("malformed process key")
        self.processes.reap()
        child = self.processes.current.get(key)
        if child is not None and child.pid != replace_pid:
            return encode_json(Kind.SPAWNED, {"pid": child.pid, "existed": True})
        if self.watch.changed():
            self.renew(conn, request)
        if self.app_class is None:
            return encode_json(Kind.FAIL, {"message": self.load_error, "load_error": True})
        if child is not None:
            self.processes.send_signal(child, signal.SIGKILL)
        started = self.processes.start(key, str(request.get("session", "")))
        if started is None:
            return encode_json(Kind.FAIL, {"message": "too many user processes", "full": True})
        return encode_json(Kind.SPAWNED, {"pid": started.pid, "existed": False})

    def _kill(self, request: dict[str, Any]) -> int:
        if "key" in request:  # a worker: an interaction timed out
            return int(self.processes.kill(request["key"], request.get("pid")))
        if "session" in request:  # a logout or a rotation
            return self.processes.end_session(str(request["session"]))
        match = str(request["match"])  # an operator: a session hash prefix or a pid
        found = [
            child
            for child in list(self.processes.current.values())
            if str(child.pid) == match or (len(match) >= 6 and child.key.startswith(match))
        ]
        for child in found:
            self.processes.ask_to_end(child, EVICT)
        return len(found)

    def _listing(self) -> dict[str, Any]:
        return {
            "app": str(self.config.app),
            "label": self.config.label,
            "pid": os.getpid(),
            "workers": len(self.leases),
            "start_method": self.config.start_method,
            "spares": self.processes.spares.pids(),
            "processes": self.processes.listing(),
        }

    def _check_leases(self) -> None:
        """No lease for lease_grace: stop, unless the server still listens (then ask again
        after another grace: a restarted worker will take a lease when it serves the App)."""
        if self.leases:
            return
        now = time.monotonic()
        if self.lease_lost_at is None:
            self.lease_lost_at = now
        elif now - self.lease_lost_at >= self.config.lease_grace:
            if osutil.accepts_connections(self.config.server_address):
                self.lease_lost_at = now
                return
            logger.info("no worker holds a lease and the server is gone: stopping")
            self.stopping = True

    # -- renewal -------------------------------------------------------------------------------
    def renew(self, requester: socket.socket, request: dict[str, Any]) -> NoReturn:
        """Re-exec this template to import the App's new code, keeping pid, children, leases
        and the control socket (connections wait in its backlog meanwhile). The requester's
        connection is handed over too, and its SPAWN is answered by the new image."""
        logger.info("the source of %s changed: renewing its template", self.config.app)
        keep = [self.control.fileno(), self.board.fd, self.liveness_r, self.liveness_w]
        leases = [conn.fileno() for conn in self.leases]
        state = {
            "control": self.control.fileno(),
            "board_fd": self.board.fd,
            "liveness": [self.liveness_r, self.liveness_w],
            "leases": leases,
            "requester": requester.fileno(),
            "request": request,
            "processes": self.processes.export(),
        }
        for fd in [*keep, *leases, requester.fileno()]:
            os.set_inheritable(fd, True)
        signal.set_wakeup_fd(-1)
        config = json.dumps(asdict(self.config))
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, "-c", RESUME, config, json.dumps(state)])

    def restore(self, state: dict[str, Any]) -> None:
        """Continue after a renewal: re-learn children and leases, answer the requester."""
        self.processes.restore(state["processes"])
        self.processes.reap()  # some may have ended while we were exec'ing
        for fd in [*state["leases"], state["requester"]]:
            os.set_inheritable(fd, False)  # a spawned user process must not get them
        for fd in state["leases"]:
            conn = socket.socket(fileno=fd)
            self._register(conn)
            self.leases.add(conn)
            self.lease_lost_at = None
        requester = socket.socket(fileno=state["requester"])
        self._register(requester)
        try:
            requester.sendall(self._spawn(requester, state["request"]))
        except OSError:
            self._drop(requester)

    # -- shutdown ------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """SIGTERM every user process, SIGKILL those still alive after the grace, clean up."""
        self.selector.unregister(self.control)
        self.control.close()
        runtime.unlink_quietly(os.path.join(self.config.directory, CONTROL_SOCKET))
        processes = self.processes
        for child in list(processes.by_pid.values()):
            processes.send_signal(child, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_grace
        while processes.by_pid and time.monotonic() < deadline:
            self.selector.select(deadline - time.monotonic())
            self._drain_wakeup(None)
            processes.reap()
        for child in list(processes.by_pid.values()):
            logger.warning("user process %d ignored SIGTERM: killing it", child.pid)
            processes.send_signal(child, signal.SIGKILL)
        while processes.by_pid:
            pid, _status = os.waitpid(-1, 0)
            processes.by_pid.pop(pid, None)
        self.board.close()
        runtime.remove_if_unused(self.config.directory, CONTROL_SOCKET)
        logger.info("template of %s stopped", self.config.app)
