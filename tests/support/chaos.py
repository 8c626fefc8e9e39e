"""What the chaos soak kills: user processes, server workers (Server.workers: never
multiprocessing's helpers), templates; each with SIGKILL, each kill written down."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio
import psutil

from tests.support.servers import Server, our_processes


def templates(runtime: str) -> list[psutil.Process]:
    """The templates of this run (their forks, the user processes, share their command line)."""
    ours = our_processes(runtime)
    pids = {process.pid for process in ours}
    found = []
    for process in ours:
        try:
            if process.ppid() not in pids:
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


@dataclass
class Chaos:
    """Kills one thing at a time, on a schedule; `log` says what and when."""

    server: Server
    runtime: str
    user_pids: Callable[[], Sequence[int]]  # the users' processes as their pages say
    rng: random.Random
    log: list[tuple[float, str, int]] = field(default_factory=list)

    async def run(self, schedule: Sequence[str], every: float) -> None:
        for action in schedule:
            await anyio.sleep(every)
            victims = self._victims(action)
            if not victims:
                continue
            victim = self.rng.choice(victims)
            try:
                victim.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                continue
            self.log.append((time.monotonic(), action, victim.pid))

    def _victims(self, action: str) -> list[psutil.Process]:
        if action == "worker":
            return self.server.workers()  # never multiprocessing's resource tracker
        if action == "template":
            return templates(self.runtime)
        found = []
        for pid in set(self.user_pids()):
            try:
                found.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        return found

    def events_between(self, start: float, end: float) -> int:
        return sum(start < at <= end for at, _, _ in self.log)
