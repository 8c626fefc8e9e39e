"""Spare user processes on the portable path: fresh interpreters reached over loopback TCP.

No fork, no unix socket, no signal (Windows has none of them; ``$HTAGWEB_PORTABLE=1``
takes this path elsewhere). The template binds each process's listening socket on
127.0.0.1 (a port the OS picks), starts ``python -m htagweb_asgi.proc.usermain
--portable`` with the socket (inherited on POSIX, ``socket.share`` on Windows) and a spec
on stdin (the configuration, the template's secret, a one-time link token), and connects
to it at once. That first connection, the *link*, carries the assignment (ASSIGN) and why
the process ends (END instead of SIGUSR1, SIGHUP...); its end of stream tells the process
that the template is gone (instead of PR_SET_PDEATHSIG) and tells the template that the
process died (instead of SIGCHLD). Workers reach the process on the same port, named by
``<key>.port`` once assigned, proving the secret first (see protocol/handshake.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.limiter import Limiter, Placement
from htagweb_asgi.proc.spares import Spare, Spares
from htagweb_asgi.proc.startgate import StartGate
from htagweb_asgi.proc.usermain import PORTABLE_FLAG
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import SPAWNED_USER_MODULE, TemplateConfig
from htagweb_asgi.protocol.frames import FrameDecoder, FrameError, Kind, encode_json

logger = logging.getLogger(__name__)

EXIT_POLL = 0.02  # seconds between looks at a process whose link closed, until it exits

BOARD_FILE = "activity.board"

Watch = Callable[[socket.socket, Callable[[], None]], object]


class PortableSpares(Spares):
    """Spares (and, once assigned, user processes) started as fresh interpreters."""

    def __init__(
        self,
        config: TemplateConfig,
        board_path: str,
        slots: int,
        secret: bytes,
        started: Callable[[int, Placement], None],
        limiter: Limiter,
        watch: Watch,
        unwatch: Callable[[socket.socket], object],
    ) -> None:
        self.config = config
        self.limiter = limiter
        self.started = started
        self.ready: list[Spare] = []
        self._spec = {"config": config.to_json(), "slots": slots, "board": board_path}
        self._secret = secret
        self._watch, self._unwatch = watch, unwatch
        self.popens: dict[int, subprocess.Popen[bytes]] = {}
        self.links: dict[int, socket.socket] = {}  # every live process's link
        self.ports: dict[int, int] = {}
        self._decoders: dict[int, FrameDecoder] = {}
        self.dying: set[int] = set()  # its link closed: it exits, or has
        self.gate = StartGate()  # how many start at once (see startgate.py)

    def can_start(self) -> bool:
        return self.gate.open()

    def starting(self, pid: int) -> bool:
        return self.gate.is_starting(pid)

    def due(self) -> bool:
        return super().due() and self.gate.open()  # spares start through the gate too

    def take(self) -> Spare:
        """A spare that is up (the oldest), else one still starting, else a new one."""
        for spare in self.ready:
            if not self.gate.is_starting(spare.pid):
                self.ready.remove(spare)
                return spare
        return self.ready.pop(0) if self.ready else self._new()

    def _new(self) -> Spare:
        placement = self.limiter.prepare()
        try:
            listener = socket.create_server((portable.LOOPBACK, 0))
        except OSError:
            self.limiter.release(placement.cgroup)
            raise
        with listener:
            token = secrets.token_hex(16)
            spec = {
                **self._spec,
                "placement": placement.to_dict(),
                "secret": self._secret.hex(),
                "token": token,
            }
            popen = _start(listener, spec, self.limiter.adopt)
            port = listener.getsockname()[1]
        pid = popen.pid
        self.popens[pid], self.ports[pid] = popen, port
        link = socket.create_connection((portable.LOOPBACK, port))  # waits in its backlog
        link.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.sendall(encode_json(Kind.LEASE, {"token": token}))
        self.links[pid], self._decoders[pid] = link, FrameDecoder()
        self._watch(link, lambda: self._readable(pid))
        self.gate.started(pid)
        self.started(pid, placement)
        return Spare(pid, link)

    def assign_key(self, path: str, slot: int) -> int:
        """Tell a spare its slot, then name its port at `path`; return its pid."""
        while True:
            spare = self.take()
            ident = portable.new_ident()  # what it proves itself under, from now on
            try:
                spare.control.sendall(encode_json(Kind.ASSIGN, {"slot": slot, "id": ident}))
            except OSError as exc:  # it died meanwhile (reaped later): take another
                logger.info("spare process %d is gone (%s): taking another", spare.pid, exc)
                continue
            portable.write_address(path, portable.Address(self.ports[spare.pid], ident=ident))
            return spare.pid

    def wait_warm(self, timeout: float) -> Spare | None:
        spare = self._new()
        self.ready.append(spare)
        spare.control.settimeout(timeout)
        try:
            while True:
                data = spare.control.recv(4096)
                frames = self._decoders[spare.pid].feed(data) if data else None
                if frames is None:
                    return None
                if any(kind is Kind.WARM for kind, _ in frames):
                    self.gate.up(spare.pid)
                    return spare
        except (OSError, FrameError):
            return None
        finally:
            spare.control.settimeout(None)

    def forget(self, pid: int) -> None:
        self.ready = [spare for spare in self.ready if spare.pid != pid]

    def tell(self, pid: int, end: End) -> None:
        """END on its link (it tells its pages why); KILL terminates it at once."""
        popen = self.popens.get(pid)
        if popen is None or popen.returncode is not None:
            return
        if end is End.KILL:
            popen.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
            return
        link = self.links.get(pid)
        if link is not None:
            with contextlib.suppress(OSError):  # its link broke: it is dying, reaped later
                link.sendall(encode_json(Kind.END, {"why": end.value}))

    def _readable(self, pid: int) -> None:
        link = self.links[pid]
        try:
            data = link.recv(4096)
            frames = self._decoders[pid].feed(data) if data else None
        except (OSError, FrameError):
            frames = None
        if frames is None or any(kind is Kind.WARM for kind, _ in frames):
            self.gate.up(pid)  # it started (or never will): the next may start
        if frames is None:  # the process is gone (or going): reap it once it exited
            self._unwatch(link)
            link.close()
            del self.links[pid], self._decoders[pid]
            self.dying.add(pid)

    def reaped(self) -> list[tuple[int, int]]:
        """(pid, exit code) of the processes that exited since the last call."""
        ended = []
        for pid in list(self.dying):
            code = self.popens[pid].poll()
            if code is not None:
                ended.append((pid, code))
                self.dying.discard(pid)
                del self.popens[pid], self.ports[pid]
        return ended

    def exits_pending(self) -> bool:
        return bool(self.dying)

    def wait_exit(self, pid: int | None, timeout: float | None) -> tuple[int, int] | None:
        """(pid, exit code) once `pid` (any one, when None) exited within `timeout` seconds
        (None: still running)."""
        if pid is None:
            pid = next(iter(self.popens), None)
            if pid is None:
                return None
        popen = self.popens.get(pid)
        if popen is None:
            return None
        try:
            code = popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        link = self.links.pop(pid, None)
        if link is not None:
            self._unwatch(link)
            link.close()
        self.dying.discard(pid)
        self.gate.up(pid)
        del self.popens[pid], self.ports[pid]
        return pid, code


def board_path(config: TemplateConfig) -> str:
    """The activity board's file (portable: opened by name, see activity.shared_file)."""
    return os.path.join(config.directory, BOARD_FILE)


def _start(
    listener: socket.socket,
    spec: dict[str, Any],
    adopt: Callable[[int], dict[str, Any]],
) -> subprocess.Popen[bytes]:
    """A fresh interpreter serving on `listener`, given `spec` on stdin. `adopt` places it
    in its limits first (Windows' job objects, see limiter.py): it waits for its spec, so
    no App code runs outside them; a process that cannot enter them is killed."""
    argv = [sys.executable, "-m", SPAWNED_USER_MODULE, PORTABLE_FLAG]
    if sys.platform == "win32":
        popen = subprocess.Popen(argv, stdin=subprocess.PIPE)
        spec = {**spec, "socket": listener.share(popen.pid).hex()}
    else:
        popen = subprocess.Popen(argv, stdin=subprocess.PIPE, pass_fds=[listener.fileno()])
        spec = {**spec, "fd": listener.fileno()}
    try:
        spec["placement"] = {**spec["placement"], **adopt(popen.pid)}
    except OSError:
        popen.kill()
        popen.wait()
        raise
    assert popen.stdin is not None
    with popen.stdin:
        popen.stdin.write(json.dumps(spec).encode() + b"\n")
    return popen
