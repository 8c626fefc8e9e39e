"""Spare user processes: started ahead, waiting for the key of a new user.

A user process starts as a *spare*: forked from the template (or spawned as a fresh
interpreter) with one end of a socket pair, it sets up its event loop, runs htag's page code
once on a throwaway App, then waits for its assignment: its key's listening socket (passed
over the pair with ``send_fds``) and its activity slot. The template keeps
``spare_processes`` of them ready, started in quiet moments, so a new user waits for the
assignment and the page only: the copy-on-write faults of a fresh fork cost more than the
page.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from htagweb_asgi import paths
from htagweb_asgi.proc import childlimits, osutil, usermain
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.limiter import Limiter, Placement
from htagweb_asgi.proc.usermain import SPAWNED_FDS
from htagweb_asgi.protocol.config import SPAWNED_USER_MODULE, TemplateConfig

if sys.platform != "win32":
    import fcntl

    from htagweb_asgi.proc.endings import SIGNALS

logger = logging.getLogger(__name__)


@dataclass
class Spare:
    """A started process waiting for its assignment on `control`."""

    pid: int
    control: socket.socket


class Spares:
    """The ready spares of one template, and how a new one starts."""

    def __init__(
        self,
        config: TemplateConfig,
        app_class: type,
        board: ActivityBoard,
        liveness_r: int,
        close_in_child: Callable[[], None],
        started: Callable[[int, Placement], None],
        limiter: Limiter,
    ) -> None:
        self.config = config
        self.limiter = limiter  # each new process's limits, prepared before its fork
        self.app_class = app_class
        self.board = board
        self.liveness_r = liveness_r
        self.close_in_child = close_in_child  # what a forked child must not keep open
        self.started = started  # told the pid (and limits) of every process started
        self.ready: list[Spare] = []
        self.template_pid = os.getpid()

    def __len__(self) -> int:
        return len(self.ready)

    def pids(self) -> list[int]:
        return [spare.pid for spare in self.ready]

    def due(self) -> bool:
        return len(self.ready) < self.config.spare_processes

    def starting(self, pid: int) -> bool:
        """Whether `pid` is still starting (a fork starts with the App already loaded)."""
        return False

    def can_start(self) -> bool:
        """Whether a new process may start now (a fork always may; the portable path's
        interpreters start a few at a time: see startgate.py)."""
        return True

    def replenish(self) -> None:
        """Start one spare if fewer than ``spare_processes`` are ready (one per loop turn: a
        fork takes a few milliseconds, and requests come first)."""
        if self.due():
            self.ready.append(self._new())

    def take(self) -> Spare:
        """A ready spare, or a new one (which then skips its warm-up: a user is waiting)."""
        return self.ready.pop() if self.ready else self._new()

    def assign_key(self, path: str, slot: int) -> int:
        """Bind `path` and hand the listening socket and `slot` to a spare (a new one when
        none is ready); return its pid. The spare is chosen before the socket exists, so that
        a fork for it does not inherit the socket."""
        while True:
            spare = self.take()
            paths.unlink_quietly(path)
            if sys.platform == "win32":
                raise OSError("unix sockets need the POSIX path")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                listener.bind(path)
                listener.listen(64)
                message = json.dumps({"slot": slot}).encode()
                socket.send_fds(spare.control, [message], [listener.fileno()])
                return spare.pid
            except OSError as exc:  # the spare died meanwhile (reaped later): take another
                logger.info("spare process %d is gone (%s): taking another", spare.pid, exc)
            finally:
                spare.control.close()
                listener.close()

    def tell(self, pid: int, end: End) -> None:
        """Signal `pid` why it ends (cannot miss: an unreaped child keeps its pid)."""
        if sys.platform != "win32":
            os.kill(pid, SIGNALS[end])

    def reaped(self) -> list[tuple[int, int]]:
        """(pid, exit code: negative for a signal) of the children that ended."""
        ended: list[tuple[int, int]] = []
        if sys.platform == "win32":
            return ended
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return ended
            if pid == 0:
                return ended
            ended.append((pid, os.waitstatus_to_exitcode(status)))

    def exits_pending(self) -> bool:
        """Whether a process known to be ending must be looked at soon (SIGCHLD does it)."""
        return False

    def wait_exit(self, pid: int | None, timeout: float | None) -> tuple[int, int] | None:
        """Block until a child (any, when `pid` is None) exits; (pid, exit code). Only
        without timeout here: the loop waits for SIGCHLD otherwise."""
        if sys.platform == "win32":
            return None
        found, status = os.waitpid(-1 if pid is None else pid, 0)
        return found, os.waitstatus_to_exitcode(status)

    def wait_warm(self, timeout: float) -> Spare | None:
        """Start a spare now and wait up to `timeout` seconds for it to warm up (to measure
        what a user process of this App costs); None if it did not in time."""
        spare = self._new()
        self.ready.append(spare)
        if not select.select([spare.control], [], [], timeout)[0]:
            return None
        try:
            said = spare.control.recv(1)
        except OSError:
            return None
        return spare if said == usermain.WARM else None

    def forget(self, pid: int) -> None:
        """A spare ended before its assignment."""
        for spare in [s for s in self.ready if s.pid == pid]:
            self.ready.remove(spare)
            spare.control.close()

    def _new(self) -> Spare:
        placement = self.limiter.prepare()
        ours, theirs = socket.socketpair()  # AF_UNIX
        try:
            if self.config.start_method == "spawn":
                pid = self._spawn(theirs, placement)
            else:
                pid = self._fork(theirs, ours, placement)
        except OSError:
            self.limiter.release(placement.cgroup)
            ours.close()
            raise
        finally:
            theirs.close()
        self.started(pid, placement)
        return Spare(pid, ours)

    def _fork(
        self, control: socket.socket, template_end: socket.socket, placement: Placement
    ) -> int:
        if sys.platform == "win32":
            raise OSError("fork needs the POSIX path")
        pid = os.fork()
        if pid == 0:
            template_end.close()
            self._become_user_process(control, placement)
        return pid

    def _become_user_process(self, control: socket.socket, placement: Placement) -> NoReturn:
        try:
            childlimits.enter(placement)  # first: what it allocates from now on is counted
            self.close_in_child()
            for spare in self.ready:  # the template's ends of the other spares
                spare.control.close()
            osutil.die_with_parent()
            if os.getppid() != self.template_pid:
                os._exit(0)  # the template died between fork and now
            settings = self.config.process_settings()
            usermain.run(self.app_class, control, settings, self.board, self.liveness_r)
        finally:
            os._exit(1)

    def _spawn(self, control: socket.socket, placement: Placement) -> int:
        """A fresh interpreter (where fork is unavailable or unsafe): no shared memory."""
        spec = {
            "config": self.config.to_json(),
            "slots": self.board.slots,
            "template_pid": self.template_pid,
            "placement": placement.to_dict(),
        }
        argv = [sys.executable, "-m", SPAWNED_USER_MODULE, json.dumps(spec)]
        wanted = (control.fileno(), self.liveness_r, self.board.fd)
        if sys.platform == "win32":
            raise OSError("posix_spawn needs the POSIX path (see portable.py)")
        else:
            return _posix_spawn(argv, wanted)


if sys.platform != "win32":

    def _posix_spawn(argv: list[str], wanted: tuple[int, ...]) -> int:
        """Start `argv` with the fds `wanted` as SPAWNED_FDS. The sources are copied above
        the targets first: dup2 into 3, 4, 5 in turn would overwrite a source that happens
        to be 3, 4 or 5."""
        sources = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in wanted]
        try:
            pairs = zip(sources, SPAWNED_FDS, strict=True)
            actions = [(os.POSIX_SPAWN_DUP2, fd, target) for fd, target in pairs]
            return os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions)
        finally:
            for fd in sources:
                os.close(fd)
