"""The template's supervision loop: fork, kill, reap and expire the user processes of one App.

One synchronous ``selectors`` loop, single-threaded, so forking from it is safe and every
decision about a key is serialized: two workers asking at once for the same (session, App)
get the same process. Workers talk to it over ``template.sock`` with framed JSON requests.
Each worker also holds a *lease* connection; when no worker has held one for ``lease_grace``
seconds (the server stopped, or was SIGKILLed and the kernel closed its sockets) the template
stops its user processes and removes its files.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import re
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from . import osutil, runtime, userproc
from .activity import ActivityBoard
from .framing import FrameDecoder, FrameError, Kind, encode_json, load_json

if TYPE_CHECKING:
    from .template import TemplateConfig

logger = logging.getLogger(__name__)

KEY_RE = re.compile(r"[0-9a-f]{32}")
CONTROL_SOCKET = "template.sock"


@dataclass
class Child:
    """A live user process."""

    key: str
    pid: int
    slot: int
    started: float
    socket_path: str
    expiring: bool = False
    killed: bool = False


class Supervisor:
    """Owns the user processes of one App (see the module docstring)."""

    def __init__(
        self,
        config: TemplateConfig,
        app_class: type,
        control: socket.socket,
        board: ActivityBoard,
    ) -> None:
        self.config = config
        self.app_class = app_class
        self.control = control
        self.board = board
        self.selector = selectors.DefaultSelector()
        self.children: dict[str, Child] = {}  # key → its current process
        self.by_pid: dict[int, Child] = {}  # every unreaped process, current or replaced
        self.connections: dict[socket.socket, FrameDecoder] = {}
        self.leases: set[socket.socket] = set()
        self.lease_lost_at: float | None = time.monotonic()
        self.idle_checks: list[tuple[float, int]] = []  # heap of (deadline, pid)
        self.stopping = False
        self.pid = os.getpid()
        self.liveness_r, self.liveness_w = os.pipe()  # EOF in children when we die
        self.wakeup_r, self.wakeup_w = os.pipe()
        osutil.raise_fd_limit()

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self._install_signals()
        self.selector.register(self.control, selectors.EVENT_READ, self._accept)
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, self._drain_wakeup)
        logger.info("template of %s ready (pid %d)", self.config.app, self.pid)
        while not self.stopping:
            for key, _ in self.selector.select(self._next_timeout()):
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
            self._reap()
            self._check_idle()
            self._check_leases()
        self._shutdown()

    def _install_signals(self) -> None:
        os.set_blocking(self.wakeup_r, False)
        os.set_blocking(self.wakeup_w, False)
        signal.set_wakeup_fd(self.wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl+C is not ours

    def _on_stop_signal(self, *_: object) -> None:
        self.stopping = True

    def _drain_wakeup(self, _: object) -> None:
        while True:
            try:
                if not os.read(self.wakeup_r, 4096):
                    return
            except BlockingIOError:
                return

    def _next_timeout(self) -> float | None:
        now = time.monotonic()
        deadlines = []
        if self.idle_checks:
            deadlines.append(self.idle_checks[0][0])
        if self.lease_lost_at is not None:
            deadlines.append(self.lease_lost_at + self.config.lease_grace)
        return max(0.0, min(deadlines) - now) if deadlines else None

    # -- control connections ------------------------------------------------------------------
    def _accept(self, _: object) -> None:
        conn, _addr = self.control.accept()
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
            if not self.leases:
                logger.info("the last worker said goodbye: stopping")
                self.stopping = True
        elif kind is Kind.SPAWN:
            request = load_json(payload)
            conn.sendall(self._spawn(request["key"], request.get("replace_pid")))
        elif kind is Kind.KILL:
            request = load_json(payload)
            conn.sendall(
                encode_json(Kind.DONE, {"killed": self._kill(request["key"], request["pid"])})
            )
        elif kind is Kind.LIST:
            conn.sendall(encode_json(Kind.LISTING, self._listing()))
        else:
            raise ValueError(f"unexpected {kind.name}")

    # -- user processes ------------------------------------------------------------------------
    def _spawn(self, key: str, replace_pid: int | None) -> bytes:
        if not KEY_RE.fullmatch(key):
            raise ValueError("malformed process key")
        self._reap()
        child = self.children.get(key)
        if child is not None and child.pid != replace_pid:
            return encode_json(Kind.SPAWNED, {"pid": child.pid, "existed": True})
        if child is not None:
            self._terminate(child, signal.SIGKILL)
        slot = self.board.allocate()
        if slot is None:
            return encode_json(Kind.FAIL, {"message": "too many user processes", "full": True})
        child = self._fork(key, slot)
        return encode_json(Kind.SPAWNED, {"pid": child.pid, "existed": False})

    def _fork(self, key: str, slot: int) -> Child:
        path = os.path.join(self.config.directory, f"{key}.sock")
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        pid = os.fork()
        if pid == 0:
            self._become_user_process(listener, slot)
        listener.close()
        child = Child(key, pid, slot, time.monotonic(), path)
        self.children[key] = child
        self.by_pid[pid] = child
        if self.config.timeout_inactivity > 0:
            deadline = child.started + self.config.timeout_inactivity
            heapq.heappush(self.idle_checks, (deadline, pid))
        logger.debug("forked user process %d for %s…", pid, key[:8])
        return child

    def _become_user_process(self, listener: socket.socket, slot: int) -> NoReturn:
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            self.selector.close()
            for conn in [self.control, *self.connections]:
                conn.close()
            for fd in (self.wakeup_r, self.wakeup_w, self.liveness_w):
                os.close(fd)
            osutil.die_with_parent()
            if os.getppid() != self.pid:
                os._exit(0)  # the template died between fork and now
            settings = userproc.ProcessSettings(self.config.debug, self.config.max_frame)
            userproc.run(self.app_class, listener, settings, self.board, slot, self.liveness_r)
        finally:
            os._exit(1)

    def _kill(self, key: str, pid: int | None) -> bool:
        """Kill the current process of `key` if it is `pid` (whichever it is when None)."""
        child = self.children.get(key)
        if child is None or (pid is not None and child.pid != pid):
            return False
        self._terminate(child, signal.SIGKILL)
        return True

    def _terminate(self, child: Child, sig: signal.Signals) -> None:
        """Signal `child` and forget it as its key's process (it is reaped later)."""
        child.killed = child.killed or sig == signal.SIGKILL
        os.kill(child.pid, sig)  # cannot miss: an unreaped child keeps its pid
        if self.children.get(child.key) is child:
            del self.children[child.key]
            _unlink(child.socket_path)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.by_pid.pop(pid, None)
            if child is None:
                continue
            self.board.release(child.slot)
            if self.children.get(child.key) is child:
                del self.children[child.key]
                _unlink(child.socket_path)
            _log_exit(child, os.waitstatus_to_exitcode(status))

    def _check_idle(self) -> None:
        now = time.monotonic()
        timeout = self.config.timeout_inactivity
        while self.idle_checks and self.idle_checks[0][0] <= now:
            _, pid = heapq.heappop(self.idle_checks)
            child = self.by_pid.get(pid)
            if child is None:
                continue
            if child.expiring:  # it did not leave after SIGUSR1
                self._terminate(child, signal.SIGKILL)
                continue
            deadline = self.board.last_activity(child.slot) + timeout
            if deadline > now:
                heapq.heappush(self.idle_checks, (deadline, pid))
                continue
            logger.info("user process %d idle for %.0f s: ending it", pid, timeout)
            child.expiring = True
            self._terminate(child, signal.SIGUSR1)
            heapq.heappush(self.idle_checks, (now + self.config.stop_grace, pid))

    def _check_leases(self) -> None:
        if self.leases:
            return
        now = time.monotonic()
        if self.lease_lost_at is None:
            self.lease_lost_at = now
        elif now - self.lease_lost_at >= self.config.lease_grace:
            logger.info(
                "no worker has used this template for %.1f s: stopping", now - self.lease_lost_at
            )
            self.stopping = True

    def _listing(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {
                "key": child.key[:12],
                "pid": child.pid,
                "age": round(now - child.started, 1),
                "idle": round(now - self.board.last_activity(child.slot), 1),
            }
            for child in self.children.values()
        ]

    # -- shutdown ------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """SIGTERM every user process, SIGKILL those still alive after the grace, clean up."""
        self.selector.unregister(self.control)
        self.control.close()
        _unlink(os.path.join(self.config.directory, CONTROL_SOCKET))
        for child in list(self.by_pid.values()):
            self._terminate(child, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_grace
        while self.by_pid and time.monotonic() < deadline:
            self.selector.select(deadline - time.monotonic())
            self._drain_wakeup(None)
            self._reap()
        for child in list(self.by_pid.values()):
            logger.warning("user process %d ignored SIGTERM: killing it", child.pid)
            self._terminate(child, signal.SIGKILL)
        while self.by_pid:
            pid, _status = os.waitpid(-1, 0)
            self.by_pid.pop(pid, None)
        self.board.close()
        runtime.remove_if_unused(self.config.directory, CONTROL_SOCKET)
        logger.info("template of %s stopped", self.config.app)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _log_exit(child: Child, code: int) -> None:
    if code == 0 or child.expiring:
        logger.debug("user process %d ended (%d)", child.pid, code)
    elif code == -signal.SIGKILL and not child.killed:
        logger.warning("user process %d was killed by SIGKILL (perhaps out of memory)", child.pid)
    elif code < 0 and not child.killed:
        logger.warning("user process %d died of signal %d", child.pid, -code)
    elif code > 0:
        logger.warning("user process %d exited with code %d", child.pid, code)
