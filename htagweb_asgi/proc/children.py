"""The user processes of one template: start (fork or spawn), signal, reap, expire, evict.

Only the template process uses this, from its single thread. Every process stays in
``by_pid`` until reaped (so a pid is never reused under us), and in ``current`` while it is
the process of its key; replacing, killing or expiring a process takes it out of ``current``
at once (and unlinks its socket) so the next request gets a fresh one without waiting.

Every process starts as a spare (see spares.py) and gets its key at ``start``.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from htagweb_asgi import paths
from htagweb_asgi.proc import capacity, eviction, views
from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.admission import RefusalLog, Refused
from htagweb_asgi.proc.deaths import Deaths
from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.limiter import POLL_INTERVAL, Limiter, Placement
from htagweb_asgi.proc.spares import Spares
from htagweb_asgi.protocol.config import TemplateConfig

logger = logging.getLogger(__name__)

EXPIRE = End.EXPIRE  # tell a user process why it ends (see endings.py)
EVICT = End.EVICT
SESSION_ENDED = End.SESSION_ENDED
REPLACED = End.REPLACED  # another page of the session opened the App with other arguments
WHY = {EXPIRE: "inactivity", EVICT: "eviction", SESSION_ENDED: "session_end", REPLACED: "replaced"}
SIGKILL_CODE = -9  # a process's exit code when SIGKILL ended it (POSIX)


@dataclass
class Child:
    """A user process."""

    key: str
    pid: int
    slot: int
    started: float
    socket_path: str
    session: str = ""  # the session's tag (see Sessions.tag): logout ends its processes
    client: str = ""  # the address whose page load started it (admission control)
    ending: bool = False  # asked to end (expired, evicted): SIGKILL if it lingers
    killed: bool = False  # we sent SIGKILL ourselves
    end_reason: str = ""  # why we ended it (see deaths.REASONS); "" while it lives
    cgroup: str | None = None  # its limits (see limiter.Placement)
    baseline: int = 0
    limit_kill: str = ""  # the watchdog killed it at this limit
    generation: int = 0  # of the template's App code when it was assigned (see roll)


class UserProcesses:
    """The table of user processes and everything that changes it."""

    def __init__(
        self,
        config: TemplateConfig,
        app_class: type,
        board: ActivityBoard,
        liveness_r: int,
        close_in_child: Callable[[], None],
        reply: Callable[[Hashable, bytes], None] = lambda holder, frame: None,
        generation: int = 0,
        spares: Callable[[Callable[[int, Placement], None], Limiter], Spares] | None = None,
    ) -> None:
        self.config = config
        self.board = board
        self.current: dict[str, Child] = {}
        self.by_pid: dict[int, Child] = {}
        self.per_client: Counter[str] = Counter()  # live processes (in current) by address
        self.checks: list[tuple[float, int]] = []  # heap of (deadline, pid)
        self.limiter = Limiter(config.memory_limit, config.cpu_limit, config.limit_mechanism)
        self.deaths = Deaths()
        self.started_total = 0
        self.generation = generation  # 1 more at each renewal: processes older run old code
        self._reply = reply  # answers to the workers waiting for a death (see deaths.py)
        self.next_watch = self._now() + POLL_INTERVAL if self._watching() else None
        if spares is not None:  # the portable path's (see portable.py)
            self.spares = spares(self._started, self.limiter)
        else:
            self.spares = Spares(
                config, app_class, board, liveness_r, close_in_child, self._started, self.limiter
            )

        self.log = RefusalLog(board.clock)
        self.max_processes = 0
        self.client_limit = 0
        self.set_capacity(config.max_processes or capacity.FALLBACK_MAX)

    def set_capacity(self, max_processes: int) -> None:
        """The cap on live processes (see capacity.py), and each address's share of it."""
        self.max_processes = max_processes
        self.client_limit = max(1, int(self.config.client_share * max_processes))

    def _now(self) -> float:
        return self.board.clock()

    def _watching(self) -> bool:
        return self.limiter.mechanism == "watchdog"

    # -- starting ------------------------------------------------------------------------------
    def start(self, key: str, session: str, client: str = "") -> Child | Refused:
        """Give the process of `key` its socket, using a ready spare when there is one.

        Room is made first where needed (see eviction.py): at `client`'s share of the
        processes, by ending one of its own; at the cap, one of anybody's. Refused when
        nobody may be ended.
        """
        share = self.client_limit if self.client_limit < self.max_processes else None
        at_share = bool(client) and share is not None and self.per_client[client] >= share
        own = (c for c in self.current.values() if c.client == client)
        if at_share and not self._evict_one(own):
            return Refused.CLIENT_SHARE
        at_cap = len(self.current) >= self.max_processes
        if at_cap and not self._evict_one(self.current.values()):
            return Refused.FULL
        slot = self.board.allocate()
        if slot is None:  # every spare slot still belongs to an ending process
            return Refused.FULL
        path = self.config.key_file(key)
        pid = self.spares.assign_key(path, slot)
        spare = self.by_pid.get(pid)
        child = Child(key, pid, slot, self.board.clock(), path, session, client)
        if spare is not None:
            child.cgroup, child.baseline = spare.cgroup, spare.baseline
        child.generation = self.generation
        self.started_total += 1
        self._add(child)
        self.by_pid[pid] = child
        self._schedule(child)
        return child

    def refresh_spares(self) -> int:
        """The App's files changed, on the portable path, where every process imports the
        App itself: end the spares (never assigned: they hold the old code), so that the
        next ones import the new. Users keep their processes, now of an older generation
        (see roll). Return how many spares ended."""
        old = self.spares.pids()
        for pid in old:
            self.spares.tell(pid, End.STOP)
            self.spares.forget(pid)
        self.generation += 1
        return len(old)

    def can_start(self) -> bool:
        """Whether `start` may give a key its process now: a spare is ready, or a new
        one may start (else the request waits its turn: see startqueue.py)."""
        return bool(self.spares.ready) or self.spares.can_start()

    def _started(self, pid: int, placement: Placement) -> None:
        """A new spare: kept in by_pid (unassigned: no key, no slot) until reaped."""
        self.by_pid[pid] = Child("", pid, -1, self.board.clock(), "")
        self.by_pid[pid].cgroup, self.by_pid[pid].baseline = placement.cgroup, placement.baseline
        self.deaths.started(pid)

    # -- ending ----------------------------------------------------------------------------------
    def kill(self, key: str, pid: int | None) -> bool:
        """Kill the current process of `key` if it is `pid` (whichever it is when None)."""
        child = self.current.get(key)
        if child is None or (pid is not None and child.pid != pid):
            return False
        self.send_signal(child, End.KILL, "timeout")  # a worker's: it took too long
        return True

    def rename(self, key: str, pid: int, new_key: str, session: str) -> bool:
        """The session of `key`'s process got a new id (the App rotated it at login): the
        process becomes `new_key`'s (its socket is moved, its connections stay), tagged
        with the new `session`. False when `pid` is no longer `key`'s process."""
        child = self.current.get(key)
        if child is None or child.pid != pid or new_key in self.current:
            return False
        new_path = self.config.key_file(new_key)
        try:
            os.rename(child.socket_path, new_path)  # a bound socket keeps listening
        except OSError as exc:
            logger.warning("cannot move the socket of user process %d: %s", pid, exc)
            return False
        del self.current[key]
        child.key, child.socket_path, child.session = new_key, new_path, session
        self.current[new_key] = child
        return True

    def send_signal(self, child: Child, sig: End, reason: str = "") -> None:
        """Tell `child` it ends (a signal, or a frame on the portable path); it stops being
        its key's process at once (reaped later)."""
        child.end_reason = child.end_reason or reason
        child.killed = child.killed or sig is End.KILL
        child.ending = child.ending or sig is End.STOP  # we stop it: not worth a warning
        self.spares.tell(child.pid, sig)
        self._remove(child)

    def _add(self, child: Child) -> None:
        self.current[child.key] = child
        if child.client:
            self.per_client[child.client] += 1

    def _remove(self, child: Child) -> None:
        """`child` stops being its key's process (its socket goes: the next page gets a new
        one at once)."""
        if self.current.get(child.key) is not child:
            return
        del self.current[child.key]
        paths.unlink_quietly(child.socket_path)
        if child.client:
            self.per_client[child.client] -= 1
            if self.per_client[child.client] <= 0:
                del self.per_client[child.client]

    def end_session(self, session: str) -> int:
        """Logout or rotation: end every process of the session tagged `session`."""
        found = [child for child in self.current.values() if session and child.session == session]
        for child in found:
            self.ask_to_end(child, SESSION_ENDED)
        return len(found)

    def ask_to_end(self, child: Child, sig: End, reason: str = "") -> None:
        """EXPIRE or EVICT: the process tells its pages why; SIGKILL if it lingers."""
        child.ending = True
        self.send_signal(child, sig, reason or WHY.get(sig, ""))
        heapq.heappush(self.checks, (self.board.clock() + self.config.stop_grace, child.pid))

    def _evict_one(self, among: Iterable[Child]) -> bool:
        """End the process eviction.victim picks among `among`; False when none may go."""
        now = self.board.clock()
        chosen = eviction.victim(among, self.board.usage, now, self.config.evict_after)
        if chosen is None:
            return False
        usage = self.board.usage(chosen.slot)
        logger.info(
            "making room: evicting user process %d (%s, %d interaction(s), idle %.0f s)",
            chosen.pid,
            "attached" if usage.attached else "never attached",
            usage.interactions,
            now - usage.last_activity,
        )
        self.ask_to_end(chosen, EVICT)
        return True

    def reap(self) -> None:
        for pid, code in self.spares.reaped():
            self.ended(pid, code)

    def ended(self, pid: int, code: int) -> None:
        """`pid` exited with `code` (negative: the signal that ended it)."""
        child = self.by_pid.pop(pid, None)
        if child is None:
            return
        limit = self.limiter.classify(code, child.cgroup, child.limit_kill, pid)
        self.limiter.release(child.cgroup, pid)
        if not child.key:  # a spare that never got its assignment
            self.spares.forget(pid)
            _log_exit(child, code)
            return
        self.board.release(child.slot)
        self._remove(child)
        self._record_end(child, code, limit)

    def _record_end(self, child: Child, code: int, limit: str | None) -> None:
        if limit is not None:
            logger.warning(
                "user process %d ended: it reached its %s limit (%s)",
                child.pid,
                limit,
                self.limiter.cpu_mechanism() if limit == "cpu" else self.limiter.mechanism,
            )
            reason = "limit"
        else:
            _log_exit(child, code)
            reason = child.end_reason or ("exit" if code == 0 else "crash")
        for holder, frame in self.deaths.ended(child.pid, reason, limit):
            self._reply(holder, frame)

    def watch(self) -> None:
        """The watchdog's round (when it is the memory mechanism): SIGKILL what grew past
        memory_limit; reaping then tells its user why."""
        if self.next_watch is None or self._now() < self.next_watch:
            return
        self.next_watch = self._now() + POLL_INTERVAL
        for child in list(self.by_pid.values()):
            if not child.limit_kill and self.limiter.over_limit(child.pid, child.baseline):
                child.limit_kill = "memory"
                self.send_signal(child, End.KILL)

    def check_deadlines(self) -> None:
        """End the processes whose page never attached in time, and the idle ones; SIGKILL
        those that did not end when asked."""
        now = self.board.clock()
        while self.checks and self.checks[0][0] <= now:
            _, pid = heapq.heappop(self.checks)
            child = self.by_pid.get(pid)
            if child is None or not child.key:
                continue
            if child.ending:
                self.send_signal(child, End.KILL)
                continue
            due = self._next_check(child)
            if due is None:
                continue
            deadline, why = due
            if deadline > now:
                heapq.heappush(self.checks, (deadline, pid))
                continue
            if why == "unattached":
                logger.debug("user process %d: its page never attached, ending it", pid)
                self.log.reclaim()
            else:
                idle = self.config.timeout_inactivity
                logger.info("user process %d idle for %g s: ending it", pid, idle)
            self.ask_to_end(child, EXPIRE, "unattached" if why == "unattached" else "inactivity")

    def _schedule(self, child: Child) -> None:
        due = self._next_check(child)
        if due is not None:
            heapq.heappush(self.checks, (due[0], child.pid))

    def _next_check(self, child: Child) -> tuple[float, str] | None:
        """When `child` may have to end, and why: its page has not attached within
        unattached_timeout, or it was idle for timeout_inactivity (None: never)."""
        usage = self.board.usage(child.slot)
        due: list[tuple[float, str]] = []
        if not usage.attached and self.config.unattached_timeout > 0:
            due.append((child.started + self.config.unattached_timeout, "unattached"))
        if self.config.timeout_inactivity > 0:
            due.append((usage.last_activity + self.config.timeout_inactivity, "idle"))
        return min(due) if due else None

    def spare_pids(self) -> list[int]:
        return self.spares.pids()

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.checks[0][0] if self.checks else None, self.next_watch)]
        known = [d for d in deadlines if d is not None]
        return min(known) if known else None

    # -- views and hand-over ---------------------------------------------------------------------
    def listing(self, memory: bool = True) -> list[dict[str, Any]]:
        """The live processes, with their memory and CPU (read from /proc: skip them to
        watch often)."""
        return views.listing(self, memory)

    def others(self) -> list[dict[str, Any]]:
        return views.others(self)

    def metrics(self) -> dict[str, Any]:
        return views.metrics(self)

    def limits(self) -> dict[str, Any]:
        return {**self.limiter.describe(), "events": dict(self.deaths.limits)}

    def why_ended(self, holder: Hashable, pid: int) -> bytes | None:
        """The reply to a worker asking why `pid` ended (None: once it is reaped)."""
        self.reap()
        return self.deaths.ask(holder, pid, alive=pid in self.by_pid)

    def roll(self, everyone: bool, idle: float) -> int:
        """End (as expired: each page reloads at its next action, on the new code) the
        processes assigned before the last renewal, or all of them when `everyone` (the
        App's files changed since); only those idle for `idle` seconds."""
        now = self._now()
        found = [
            child
            for child in list(self.current.values())
            if (everyone or child.generation < self.generation)
            and now - self.board.last_activity(child.slot) >= idle
        ]
        for child in found:
            self.ask_to_end(child, EXPIRE, "operator")
        return len(found)

    def state(self, child: Child) -> str:
        """spare, never attached (a page was served, none connected), attached, draining."""
        if not child.key:
            return "spare"
        if child.ending or self.current.get(child.key) is not child:
            return "draining"
        ever, _now = self.board.pages(child.slot)
        return "attached" if ever else "never attached"

    def export(self) -> dict[str, Any]:
        """The table, for the re-executed template (see supervisor.renew)."""
        current = {child.key: child.pid for child in self.current.values()}
        return {
            "children": [asdict(c) for c in self.by_pid.values()],
            "current": current,
            "checks": self.checks,
            "max_processes": self.max_processes,
            "started_total": self.started_total,
            "generation": self.generation,
        }

    def restore(self, state: dict[str, Any]) -> None:
        for fields in state["children"]:
            child = Child(**fields)
            self.by_pid[child.pid] = child
        for pid in state["current"].values():
            self._add(self.by_pid[pid])
        self.set_capacity(int(state.get("max_processes") or self.max_processes))
        self.checks = [(float(deadline), int(pid)) for deadline, pid in state["checks"]]
        heapq.heapify(self.checks)
        self.board.reserve({child.slot for child in self.by_pid.values() if child.slot >= 0})
        self.started_total = int(state.get("started_total", 0))
        self.generation = int(state.get("generation", 0)) + 1  # the renewed code is newer


def _log_exit(child: Child, code: int) -> None:
    if code == 0 or child.ending:
        logger.debug("user process %d ended (%d)", child.pid, code)
    elif code == SIGKILL_CODE and not child.killed:
        logger.warning("user process %d was killed by SIGKILL (perhaps out of memory)", child.pid)
    elif code < 0 and not child.killed:
        logger.warning("user process %d died of signal %d", child.pid, -code)
    elif code > 0:
        logger.warning("user process %d exited with code %d", child.pid, code)
