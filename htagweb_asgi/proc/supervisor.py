"""The template's loop: serve workers' requests, hold their leases, supervise user processes.

One synchronous ``selectors`` loop in a single thread, so forking from it is safe and every
decision about a key is serialized: two workers asking at once for the same (session, App)
get the same process. Workers talk to it over ``template.sock`` with framed JSON requests,
answered by requests.py; the leases (leases.py) say when nobody uses the App any more.

With no lease left for a grace period, the template asks whether the server still accepts
connections on its listening address: a worker restart (gunicorn --max-requests, a
SIGKILLed worker) leaves the server listening, and the template keeps serving; a stopped or
killed server does not, and the template stops its user processes and removes its files.

When the App's source changes, the next new user triggers a *renewal* (renewal.py): the
template re-execs itself (same pid, same control socket, same children, same leases) to
import the new code.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable, Hashable
from typing import Any, NoReturn

from htagweb_asgi import paths, system
from htagweb_asgi.proc import capacity, osutil, renewal
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.children import UserProcesses
from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.leases import Leases
from htagweb_asgi.proc.limiter import Limiter, Placement
from htagweb_asgi.proc.portable import EXIT_POLL, PortableSpares, board_path
from htagweb_asgi.proc.requests import TemplateRequests
from htagweb_asgi.proc.sourcewatch import SourceWatch
from htagweb_asgi.proc.spares import Spares
from htagweb_asgi.proc.workerfiles import WorkerFiles
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import TemplateConfig
from htagweb_asgi.protocol.frames import FrameDecoder, FrameError, Kind
from htagweb_asgi.protocol.handshake import HANDSHAKE_FRAME, ServerHandshake

logger = logging.getLogger(__name__)

SPARE_DELAY = 0.02  # seconds of quiet before starting a spare process
SEND_TIMEOUT = 5.0  # replies are small: never let one slow worker stall the template
WARM_TIMEOUT = 5.0  # seconds the first spare may take to warm up before it is measured


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
        secret: bytes | None = None,
    ) -> None:
        self.config = config
        self.app_class = app_class  # None: a renewal whose new code does not import
        self.control = control
        self.board = board
        self.selector = selectors.DefaultSelector()
        self.connections: dict[socket.socket, FrameDecoder] = {}
        self.secret = secret  # portable path: what every connection must prove
        self.unproven: dict[socket.socket, ServerHandshake] = {}
        self.leases = Leases(config.lease_grace, time.monotonic, config.restart_grace)
        self.stopping = False
        self.liveness_r, self.liveness_w = liveness or os.pipe()  # EOF in children when we die
        self.wakeup = socket.socketpair()  # the signals' wakeup: a socket, for Windows too
        self.processes = UserProcesses(
            config,
            app_class or object,
            board,
            self.liveness_r,
            self._close_in_child,
            reply=self._send_late,
            spares=self._portable_spares if config.portable else None,
        )
        self.worker_files = WorkerFiles(config.directory)
        self.watch = SourceWatch.of(config.app)
        self.requests = TemplateRequests(
            config,
            self.processes,
            self.leases,
            loaded=app_class is not None,
            load_error=load_error,
            source_changed=lambda: self.watch.changed(),
            renew=self._refresh_spares if config.portable else self._renew,
            clock=board.clock,
            worker_series=self.worker_files.collect,
        )
        system.raise_fd_limit()

    def _portable_spares(
        self, started: Callable[[int, Placement], None], limiter: Limiter
    ) -> Spares:
        assert self.secret is not None, "the portable path needs the template's secret"
        return PortableSpares(
            self.config,
            board_path(self.config),
            self.board.slots,
            self.secret,
            started,
            limiter,
            watch=lambda sock, callback: self.selector.register(
                sock, selectors.EVENT_READ, lambda _: callback()
            ),
            unwatch=self.selector.unregister,
        )

    def size_to_machine(self) -> None:
        """No max_processes given: measure a warm spare of this App, size the cap to the
        machine's memory (capacity.py), and say so in the log."""
        spare = self.processes.spares.wait_warm(WARM_TIMEOUT)
        measured = osutil.memory_usage(spare.pid).get("uss") if spare is not None else None
        found = capacity.size(measured)
        self.processes.set_capacity(found.max_processes)
        logger.info("max_processes of %s: %s", self.config.app, found.describe())

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self._install_signals()
        self.selector.register(self.control, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wakeup[0], selectors.EVENT_READ, self._drain_wakeup)
        logger.info("template of %s ready (pid %d)", self.config.app, os.getpid())
        while not self.stopping:
            events = self.selector.select(self._next_timeout())
            for key, _ in events:
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
            self.processes.reap()
            self.processes.check_deadlines()
            self.processes.watch()
            for holder, reply in self.requests.serve_waiting():  # their turn to start came
                self._send_late(holder, reply)
            self._check_leases()
            if not events and self.app_class is not None:
                # Only once nothing happened for SPARE_DELAY: a fork now would compete for
                # the CPU with the page the last new user is waiting for.
                self.processes.spares.replenish()
        self._shutdown()

    def _install_signals(self) -> None:
        for end in self.wakeup:
            end.setblocking(False)
        signal.set_wakeup_fd(self.wakeup[1].fileno())
        if sys.platform != "win32" and not self.config.portable:
            signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl+C is not ours

    def _on_stop_signal(self, *_: object) -> None:
        self.stopping = True

    def _drain_wakeup(self, _: object) -> None:
        try:
            while self.wakeup[0].recv(4096):
                pass
        except BlockingIOError:
            pass

    def _next_timeout(self) -> float | None:
        deadlines = [
            self.processes.next_deadline(),
            self.leases.deadline(),
            self.requests.queue.deadline(),
        ]
        known = [deadline for deadline in deadlines if deadline is not None]
        timeout = max(0.0, min(known) - time.monotonic()) if known else None
        if self.app_class is not None and self.processes.spares.due():
            timeout = SPARE_DELAY if timeout is None else min(timeout, SPARE_DELAY)
        if self.processes.spares.exits_pending():  # portable: a link closed, its exit is due
            timeout = EXIT_POLL if timeout is None else min(timeout, EXIT_POLL)
        return timeout

    def _close_in_child(self) -> None:
        """What a forked user process must not inherit from us."""
        signal.set_wakeup_fd(-1)
        if sys.platform != "win32":
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
        self.selector.close()
        for conn in [self.control, *self.connections, *self.wakeup]:
            conn.close()
        os.close(self.liveness_w)

    # -- control connections ------------------------------------------------------------------
    def _accept(self, _: object) -> None:
        conn, _addr = self.control.accept()
        self._register(conn)
        if self.secret is not None:  # portable: nothing but the proof before it is ours
            handshake = ServerHandshake(self.secret, portable.TEMPLATE_NAME)
            self.unproven[conn] = handshake
            self.connections[conn] = FrameDecoder(HANDSHAKE_FRAME)
            try:
                conn.sendall(handshake.challenge())
            except OSError:
                self._drop(conn)

    def _register(self, conn: socket.socket) -> None:
        conn.settimeout(SEND_TIMEOUT)
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
            if conn in self.unproven:
                if not self._prove(conn, kind, payload):
                    return
                continue
            try:
                reply = self.requests.handle(conn, kind, payload)
                if reply is not None:
                    conn.sendall(reply)
            except (BrokenPipeError, ConnectionResetError):
                # The worker went away meanwhile (killed, or its request cancelled): what it
                # asked for is done, and the next request finds it.
                logger.info("a worker left before the answer to its %s request", kind.name)
                self._drop(conn)
                return
            except (OSError, FrameError, ValueError, KeyError, TypeError) as exc:
                logger.warning("bad %s request from a worker: %s", kind.name, exc)
                self._drop(conn)
                return

    def _prove(self, conn: socket.socket, kind: Kind, payload: bytes) -> bool:
        """The first frame of a portable connection: its proof of our secret."""
        answer = self.unproven.pop(conn).answer(kind, payload)
        try:
            if answer is None:
                raise ConnectionRefusedError("it does not hold the template's secret")
            conn.sendall(answer)
        except OSError as exc:
            logger.warning("refused a control connection: %s", exc)
            self._drop(conn)
            return False
        self.connections[conn] = FrameDecoder()  # proven: the usual frame limit
        return True

    def _drop(self, conn: socket.socket) -> None:
        self.unproven.pop(conn, None)
        self.selector.unregister(conn)
        del self.connections[conn]
        self.leases.lose(conn)
        self.processes.deaths.forget(conn)
        self.requests.forget(conn)
        conn.close()

    def _send_late(self, holder: Hashable, frame: bytes) -> None:
        """A reply that waited (why a process ended): the worker may have given up."""
        assert isinstance(holder, socket.socket)
        if holder not in self.connections:
            return
        try:
            holder.sendall(frame)
        except OSError:
            self._drop(holder)

    def _check_leases(self) -> None:
        """No lease for the grace period: ask whether the server still listens (then ask again
        after another grace: a restarted worker takes a lease when it serves the App). A
        server gone for restart_grace stops us; until then a new one may adopt us."""
        if not self.leases.due():
            return
        if osutil.accepts_connections(self.config.server_address):
            self.leases.still_needed()
            return
        first = self.leases.gone_since is None
        if self.leases.server_gone():
            logger.info("no worker holds a lease and the server is gone: stopping")
            self.stopping = True
        elif first:
            logger.info(
                "the server is gone: keeping %d user processes for %g s, for a new server "
                "on its address to adopt",
                len(self.processes.current),
                self.config.restart_grace,
            )

    # -- renewal -------------------------------------------------------------------------------
    def _refresh_spares(self, requester: Hashable, request: dict[str, Any]) -> None:
        """Portable path: no re-exec, each process imports the App itself; new spares
        are all that new code needs (then the request goes on, served by one)."""
        ended = self.processes.refresh_spares()
        self.watch = SourceWatch.of(self.config.app)
        logger.info(
            "the source of %s changed: %d spare process(es) ended, new ones import the new code",
            self.config.app,
            ended,
        )

    def _renew(self, requester: Hashable, request: dict[str, Any]) -> NoReturn:
        """Re-exec with the App's new code; the requester's SPAWN is answered by the new
        image (see renewal.py)."""
        assert isinstance(requester, socket.socket)
        logger.info("the source of %s changed: renewing its template", self.config.app)
        signal.set_wakeup_fd(-1)
        renewal.hand_over(
            self.config,
            renewal.State(
                control=self.control.fileno(),
                board_fd=self.board.fd,
                liveness=(self.liveness_r, self.liveness_w),
                leases=[conn.fileno() for conn in self.connections if conn in self.leases],
                requester=requester.fileno(),
                request=request,
                processes=self.processes.export(),
            ),
        )

    def restore(self, state: renewal.State) -> None:
        """Continue after a renewal: re-learn children and leases, answer the requester."""
        self.processes.restore(state.processes)
        self.processes.reap()  # some may have ended while we were exec'ing
        for fd in state.leases:
            conn = socket.socket(fileno=fd)
            self._register(conn)
            self.leases.take(conn)
        requester = socket.socket(fileno=state.requester)
        self._register(requester)
        reply = self.requests.spawn(requester, state.request)
        try:
            if reply is not None:  # else its turn to start comes later (serve_waiting)
                requester.sendall(reply)
        except OSError:
            self._drop(requester)

    # -- shutdown ------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """Stop every user process (SIGTERM, or END on the portable path), kill those still
        alive after the grace, clean up."""
        self.selector.unregister(self.control)
        self.control.close()
        paths.unlink_quietly(os.path.join(self.config.directory, self.config.control_name))
        processes = self.processes
        for child in list(processes.by_pid.values()):
            processes.send_signal(child, End.STOP)
        deadline = time.monotonic() + self.config.stop_grace
        self._wait_for_children(deadline)
        for child in list(processes.by_pid.values()):
            logger.warning("user process %d did not stop: killing it", child.pid)
            processes.send_signal(child, End.KILL)
        while processes.by_pid:
            ended = processes.spares.wait_exit(None, None)
            if ended is None:
                break
            processes.by_pid.pop(ended[0], None)
        self.board.close()
        if self.config.portable:
            paths.unlink_quietly(board_path(self.config))
        self.processes.limiter.close()
        self.worker_files.remove_all()
        paths.remove_if_unused(self.config.directory, self.config.control_name)
        logger.info("template of %s stopped", self.config.app)

    def _wait_for_children(self, deadline: float) -> None:
        processes = self.processes
        if self.config.portable:
            for pid in list(processes.by_pid):
                ended = processes.spares.wait_exit(pid, max(0.0, deadline - time.monotonic()))
                if ended is not None:
                    processes.ended(*ended)
            return
        while processes.by_pid and time.monotonic() < deadline:
            self.selector.select(deadline - time.monotonic())  # SIGCHLD wakes us
            self._drain_wakeup(None)
            processes.reap()
