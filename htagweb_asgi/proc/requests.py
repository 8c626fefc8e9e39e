"""The template's answers to its workers and operators (sans-IO over the table of processes).

``handle(holder, kind, payload)`` returns the reply frame (or None), and changes the table
and the leases; the loop (supervisor.py) reads frames and writes replies. Tests drive it
with a fake table and a fake clock.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from htagweb_asgi.proc.admission import CreationRate, RefusalLog, Refused, retry_after
from htagweb_asgi.proc.children import EVICT, REPLACED
from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.leases import Leases
from htagweb_asgi.proc.startqueue import StartQueue, Waiting
from htagweb_asgi.protocol.config import TemplateConfig
from htagweb_asgi.protocol.control import MIN_MATCH
from htagweb_asgi.protocol.frames import Kind, encode_json, load_json

KEY_RE = re.compile(r"[0-9a-f]{32}")
MAX_CLIENT = 64  # characters of a client address as the worker resolved it
SHARE_RETRY = 10  # seconds an address at its share is asked to wait (a process must end)


class Child(Protocol):
    key: str
    pid: int
    session: str


class Table(Protocol):
    """What the requests need of the table of user processes (children.UserProcesses)."""

    current: dict[str, Any]
    log: RefusalLog
    max_processes: int

    def reap(self) -> None: ...
    def can_start(self) -> bool: ...
    def start(self, key: str, session: str, client: str) -> Any: ...
    def kill(self, key: str, pid: int | None) -> bool: ...
    def rename(self, key: str, pid: int, new_key: str, session: str) -> bool: ...
    def send_signal(self, child: Any, sig: End, reason: str = "") -> None: ...
    def end_session(self, session: str) -> int: ...
    def ask_to_end(self, child: Any, sig: End, reason: str = "") -> None: ...
    def listing(self, memory: bool = True) -> list[dict[str, Any]]: ...
    def spare_pids(self) -> list[int]: ...
    def others(self) -> list[dict[str, Any]]: ...
    def metrics(self) -> dict[str, Any]: ...
    def limits(self) -> dict[str, Any]: ...
    def why_ended(self, holder: Hashable, pid: int) -> bytes | None: ...
    def roll(self, everyone: bool, idle: float) -> int: ...


class TemplateRequests:
    """Requests to one template: SPAWN, KILL, RENAME, LIST, and the leases (LEASE, BYE)."""

    def __init__(
        self,
        config: TemplateConfig,
        table: Table,
        leases: Leases,
        *,
        loaded: bool,
        load_error: str = "",
        source_changed: Callable[[], bool] = lambda: False,
        renew: Callable[[Hashable, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        worker_series: Callable[[], list[float]] = list,
    ) -> None:
        self._worker_series = worker_series  # the workers' counters, summed (workerfiles.py)
        self.config = config
        self.rate = CreationRate(config.new_process_burst, config.new_process_rate, clock)
        self.table = table
        self.leases = leases
        self.loaded = loaded  # False: a renewal whose new code does not import
        self.load_error = load_error
        self._source_changed = source_changed
        # the App's files changed: re-exec with the new code (does not return), or on the
        # portable path end the spares that hold the old code (returns)
        self._renew = renew
        self.queue = StartQueue(clock)  # waiting for an interpreter start (portable path)

    def handle(self, holder: Hashable, kind: Kind, payload: bytes) -> bytes | None:
        """The reply to one request from `holder` (a connection), or None.

        Raises ValueError, KeyError or TypeError for a malformed request (the loop drops
        that connection).
        """
        if kind is Kind.LEASE:
            self.leases.take(holder)
            return None
        if kind is Kind.BYE:
            self.leases.give_back(holder)
            return None
        if kind is Kind.SPAWN:
            return self.spawn(holder, load_json(payload))
        if kind is Kind.KILL:
            return encode_json(Kind.DONE, {"killed": self.kill(load_json(payload))})
        if kind is Kind.RENAME:
            return encode_json(Kind.DONE, {"renamed": self.rename(load_json(payload))})
        if kind is Kind.LIST:
            memory = bool(load_json(payload).get("memory", True)) if payload else True
            return encode_json(Kind.LISTING, self.listing(memory))
        if kind is Kind.STATUS:
            return encode_json(Kind.DONE, {"loaded": self.loaded, "pid": os.getpid()})
        if kind is Kind.ENDED:
            return self.table.why_ended(holder, int(load_json(payload)["pid"]))
        if kind is Kind.METRICS:
            return encode_json(Kind.DONE, self.metrics())
        if kind is Kind.ROLL:
            idle = float(load_json(payload).get("idle", 0.0))
            ending = self.table.roll(self._source_changed(), idle)
            return encode_json(Kind.DONE, {"ending": ending})
        raise ValueError(f"unexpected {kind.name}")

    def spawn(self, holder: Hashable, request: dict[str, Any]) -> bytes | None:
        """The process of the request's key: the live one, else a new one (replacing
        ``replace_pid``: its page asked for other arguments, or it crashed), within the
        admission limits of the request's ``client`` address. None: the request waits
        for its turn to start a process (see startqueue.py; answered by serve_waiting)."""
        key, replace_pid = str(request["key"]), request.get("replace_pid")
        if not KEY_RE.fullmatch(key):
            raise ValueError("malformed process key")
        client = str(request.get("client") or "")[:MAX_CLIENT]
        self.table.reap()
        child = self.table.current.get(key)
        if child is not None and child.pid != replace_pid:
            return encode_json(Kind.SPAWNED, {"pid": child.pid, "existed": True})
        if self._renew is not None and self._source_changed():
            self._renew(holder, request)
        if not self.loaded:
            return encode_json(Kind.FAIL, {"message": self.load_error, "load_error": True})
        wait = self.rate.take(client) if client else 0.0
        if wait:
            return self._refuse(Refused.RATE, client, wait)
        if child is not None:  # replaced (a newer page, or it died): it may still end well
            # its pages are told why: other arguments asked for (REPLACED), or EVICT
            self.table.ask_to_end(child, REPLACED if request.get("mismatch") else EVICT, "replaced")
        if self.queue or not self.table.can_start():  # behind those already waiting
            self.queue.add(holder, key, request, client)
            return None
        return self._start(key, request, client)

    def _start(self, key: str, request: dict[str, Any], client: str) -> bytes:
        started = self.table.start(key, str(request.get("session", "")), client)
        if isinstance(started, Refused):
            self.rate.give_back(client)
            return self._refuse(started, client, 0.0)
        return encode_json(Kind.SPAWNED, {"pid": started.pid, "existed": False})

    def serve_waiting(self) -> list[tuple[Hashable, bytes]]:
        """Answer the waiting SPAWN requests whose turn came, in order, and those that
        waited too long ("busy"); (holder, reply) for each."""
        replies = [(late.holder, self._too_long(late)) for late in self.queue.overdue()]
        while (waiting := self.queue.head()) is not None:
            child = self.table.current.get(waiting.key)  # an earlier request's, meanwhile
            if child is None and not self.table.can_start():
                break
            self.queue.pop()
            if child is not None:
                self.rate.give_back(waiting.client)
                reply = encode_json(Kind.SPAWNED, {"pid": child.pid, "existed": True})
            else:
                reply = self._start(waiting.key, waiting.request, waiting.client)
            replies.append((waiting.holder, reply))
        return replies

    def forget(self, holder: Hashable) -> None:
        """`holder`'s connection closed: its waiting requests start nothing."""
        for waiting in self.queue.forget(holder):
            self.rate.give_back(waiting.client)

    def _too_long(self, waiting: Waiting) -> bytes:
        self.rate.give_back(waiting.client)
        return self._refuse(Refused.BUSY, waiting.client, 0.0)

    def _refuse(self, why: Refused, client: str, wait: float) -> bytes:
        """FAIL: full (503), or limited (429: retry after, the worker refuses the address
        by itself for `wait` seconds: it cannot start anything before)."""
        self.table.log.refusal(why, client)
        if why in (Refused.FULL, Refused.BUSY):
            return encode_json(Kind.FAIL, {"message": why.value, "full": True})
        retry = retry_after(wait) if wait else SHARE_RETRY
        reply = {"message": why.value, "limited": True, "retry_after": retry, "wait": wait}
        return encode_json(Kind.FAIL, reply)

    def rename(self, request: dict[str, Any]) -> bool:
        """A session rotated by its App: its process moves to the new id's key."""
        key, new_key = str(request["key"]), str(request["new_key"])
        if not (KEY_RE.fullmatch(key) and KEY_RE.fullmatch(new_key)):
            raise ValueError("malformed process key")
        return self.table.rename(key, int(request["pid"]), new_key, str(request["session"]))

    def kill(self, request: dict[str, Any]) -> int:
        """End processes; return how many: a worker's (an interaction timed out), a
        session's (logout, rotation) or an operator's (a session hash prefix or a pid)."""
        if "key" in request:
            return int(self.table.kill(str(request["key"]), request.get("pid")))
        if "session" in request:
            return self.table.end_session(str(request["session"]))
        match = str(request["match"])
        found = [
            child
            for child in list(self.table.current.values())
            if str(child.pid) == match or (len(match) >= MIN_MATCH and child.key.startswith(match))
        ]
        for child in found:
            self.table.ask_to_end(child, EVICT, "operator")
        return len(found)

    def listing(self, memory: bool = True) -> dict[str, Any]:
        return {
            "app": str(self.config.app),
            "label": self.config.label,
            "pid": os.getpid(),
            "node": socket.gethostname(),
            "workers": len(self.leases),
            "max_processes": self.table.max_processes,
            "waiting_for_server": self.leases.waiting_for_server(),
            "start_method": self.config.start_method,
            "spares": self.table.spare_pids(),
            "limits": self.table.limits(),
            "processes": self.table.listing(memory),
            "others": self.table.others(),
        }

    def metrics(self) -> dict[str, Any]:
        """The template's counts, and the workers' series summed (see web/metrics.py)."""
        return {
            **self.table.metrics(),
            "workers": len(self.leases),
            "loaded": self.loaded,
            "series": self._worker_series(),
        }
