"""The template's request handling and leases, driven without a process (sans-IO)."""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.proc.admission import RefusalLog, Refused
from htagweb_asgi.proc.children import EVICT, REPLACED, SESSION_ENDED
from htagweb_asgi.proc.endings import End
from htagweb_asgi.proc.leases import Leases
from htagweb_asgi.proc.requests import TemplateRequests
from htagweb_asgi.protocol.config import TemplateConfig
from htagweb_asgi.protocol.frames import FrameDecoder, Kind, encode_json

CONFIG = TemplateConfig(
    app=AppRef("m", "App"),
    directory="/nonexistent",
    label="port:1 /",
    server_address=None,
    sys_path=[],
    debug=False,
    timeout_inactivity=0.0,
    max_processes=2,
    max_frame=1 << 20,
    max_session=1 << 16,
    lease_grace=1.0,
    restart_grace=0.0,
    stop_grace=1.0,
    evict_after=10.0,
    start_method="fork",
    spare_processes=0,
    log_level=30,
)
KEY = "a" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeChild:
    key: str
    pid: int
    session: str = ""
    client: str = ""


@dataclass
class FakeTable:
    """The table of user processes, without processes: what the requests did to it."""

    capacity: int = 2
    max_processes: int = 2
    current: dict[str, FakeChild] = field(default_factory=dict)
    signals: list[tuple[int, End]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rolled: list[tuple[bool, float]] = field(default_factory=list)
    next_pid: int = 1000
    log: RefusalLog = field(default_factory=lambda: RefusalLog(Clock()))
    startable: bool = True  # whether a process may start now (portable: see startgate.py)

    def reap(self) -> None:
        pass

    def can_start(self) -> bool:
        return self.startable

    def start(self, key: str, session: str, client: str = "") -> FakeChild | Refused:
        if len(self.current) >= self.capacity:
            return Refused.FULL
        self.next_pid += 1
        self.current[key] = FakeChild(key, self.next_pid, session, client)
        return self.current[key]

    def kill(self, key: str, pid: int | None) -> bool:
        child = self.current.get(key)
        if child is None or (pid is not None and child.pid != pid):
            return False
        self.send_signal(child, End.KILL)
        return True

    def rename(self, key: str, pid: int, new_key: str, session: str) -> bool:
        child = self.current.get(key)
        if child is None or child.pid != pid:
            return False
        del self.current[key]
        child.key, child.session = new_key, session
        self.current[new_key] = child
        return True

    def send_signal(self, child: Any, sig: End, reason: str = "") -> None:
        self.signals.append((child.pid, sig))
        self.reasons.append(reason)
        self.current.pop(child.key, None)

    def end_session(self, session: str) -> int:
        found = [c for c in self.current.values() if c.session == session]
        for child in found:
            self.ask_to_end(child, SESSION_ENDED)
        return len(found)

    def ask_to_end(self, child: Any, sig: End, reason: str = "") -> None:
        self.send_signal(child, sig, reason)

    def listing(self, memory: bool = True) -> list[dict[str, Any]]:
        return [{"key": c.key[:12], "pid": c.pid} for c in self.current.values()]

    def spare_pids(self) -> list[int]:
        return []

    def others(self) -> list[dict[str, Any]]:
        return []

    def metrics(self) -> dict[str, Any]:
        return {"processes": {"attached": len(self.current)}}

    def limits(self) -> dict[str, Any]:
        return {"mechanism": "none"}

    def why_ended(self, holder: Hashable, pid: int) -> bytes | None:
        return encode_json(Kind.DONE, {"reason": "crash", "message": ""})

    def roll(self, everyone: bool, idle: float) -> int:
        self.rolled.append((everyone, idle))
        return len(self.current)


def reply(data: bytes | None) -> tuple[Kind, Any]:
    assert data is not None
    [(kind, payload)] = FrameDecoder().feed(data)
    return kind, json.loads(payload)


def requests(table: FakeTable, **options: Any) -> TemplateRequests:
    config = options.pop("config", CONFIG)
    return TemplateRequests(config, table, Leases(1.0, Clock()), loaded=True, **options)


def ask(handler: TemplateRequests, kind: Kind, body: dict[str, Any]) -> tuple[Kind, Any]:
    return reply(handler.handle("worker", kind, encode_json(kind, body)[5:]))


def test_one_process_per_key_whoever_asks() -> None:
    table = FakeTable()
    handler = requests(table)
    first = ask(handler, Kind.SPAWN, {"key": KEY, "session": "s"})
    again = ask(handler, Kind.SPAWN, {"key": KEY})
    assert first == (Kind.SPAWNED, {"pid": 1001, "existed": False})
    assert again == (Kind.SPAWNED, {"pid": 1001, "existed": True})


def test_a_replacement_asks_the_old_process_to_end_first() -> None:
    """Not SIGKILL: the old App may run its end hook (htag 2's on_destroy); its pages are
    told it ended (EXPIRED: their next action reloads)."""
    table = FakeTable()
    handler = requests(table)
    ask(handler, Kind.SPAWN, {"key": KEY})
    replaced = ask(handler, Kind.SPAWN, {"key": KEY, "replace_pid": 1001})
    assert replaced == (Kind.SPAWNED, {"pid": 1002, "existed": False})
    assert table.signals == [(1001, EVICT)]


def test_a_page_asking_for_other_arguments_tells_the_old_process_why() -> None:
    table = FakeTable()
    handler = requests(table)
    ask(handler, Kind.SPAWN, {"key": KEY})
    ask(handler, Kind.SPAWN, {"key": KEY, "replace_pid": 1001, "mismatch": True})
    assert table.signals == [(1001, REPLACED)]  # its pages hear "replaced", not "crashed"


def test_new_processes_per_address_a_burst_then_a_rate() -> None:
    clock = Clock()
    config = replace(CONFIG, new_process_burst=3, new_process_rate=0.5)
    handler = requests(FakeTable(capacity=100), config=config, clock=clock)
    made = [ask(handler, Kind.SPAWN, {"key": f"{n:032x}", "client": "10.0.0.1"}) for n in range(3)]
    assert all(kind is Kind.SPAWNED for kind, _ in made)
    kind, refusal = ask(handler, Kind.SPAWN, {"key": "f" * 32, "client": "10.0.0.1"})
    assert kind is Kind.FAIL and refusal["limited"] is True
    assert refusal["retry_after"] == 2 and refusal["wait"] == pytest.approx(2.0)
    other = ask(handler, Kind.SPAWN, {"key": "e" * 32, "client": "10.0.0.2"})
    assert other[0] is Kind.SPAWNED  # another address has its own budget
    clock.now += 1.0
    assert ask(handler, Kind.SPAWN, {"key": "f" * 32, "client": "10.0.0.1"})[0] is Kind.FAIL
    clock.now += 1.0
    assert ask(handler, Kind.SPAWN, {"key": "f" * 32, "client": "10.0.0.1"})[0] is Kind.SPAWNED


def test_a_reload_of_a_live_process_costs_no_budget() -> None:
    config = replace(CONFIG, new_process_burst=1)
    handler = requests(FakeTable(), config=config, clock=Clock())
    for _ in range(5):
        assert ask(handler, Kind.SPAWN, {"key": KEY, "client": "10.0.0.1"})[0] is Kind.SPAWNED


def test_a_refusal_by_the_table_gives_the_token_back() -> None:
    config = replace(CONFIG, new_process_burst=1)
    table = FakeTable(capacity=0)
    handler = requests(table, config=config, clock=Clock())
    assert ask(handler, Kind.SPAWN, {"key": KEY, "client": "10.0.0.1"})[1]["full"] is True
    table.capacity = 1
    assert ask(handler, Kind.SPAWN, {"key": KEY, "client": "10.0.0.1"})[0] is Kind.SPAWNED


def test_full_and_unloadable_are_failures_the_worker_understands() -> None:
    full = requests(FakeTable(capacity=0))
    assert ask(full, Kind.SPAWN, {"key": KEY})[1]["full"] is True
    broken = TemplateRequests(
        CONFIG, FakeTable(), Leases(1.0, Clock()), loaded=False, load_error="SyntaxError"
    )
    failure = ask(broken, Kind.SPAWN, {"key": KEY})
    assert failure == (Kind.FAIL, {"message": "SyntaxError", "load_error": True})


@pytest.mark.parametrize("key", ["../../etc/x", "A" * 32, "a" * 31, ""])
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        ask(requests(FakeTable()), Kind.SPAWN, {"key": key})


def test_rename_moves_a_process_to_its_new_session_key() -> None:
    table = FakeTable()
    handler = requests(table)
    ask(handler, Kind.SPAWN, {"key": KEY, "session": "old"})
    moved = {"key": KEY, "pid": 1001, "new_key": "b" * 32, "session": "new"}
    assert ask(handler, Kind.RENAME, moved) == (Kind.DONE, {"renamed": True})
    assert table.current["b" * 32].session == "new" and KEY not in table.current
    assert ask(handler, Kind.RENAME, moved) == (Kind.DONE, {"renamed": False})  # gone from KEY
    with pytest.raises(ValueError, match="malformed"):
        ask(handler, Kind.RENAME, {**moved, "key": "b" * 32, "new_key": "../x"})


def test_kill_counts_what_it_ended() -> None:
    table = FakeTable(capacity=5)
    handler = requests(table)
    for n, session in ((1, "s1"), (2, "s1"), (3, "s2")):
        ask(handler, Kind.SPAWN, {"key": str(n) * 32, "session": session})
    assert ask(handler, Kind.KILL, {"key": "1" * 32, "pid": 999}) == (Kind.DONE, {"killed": 0})
    assert ask(handler, Kind.KILL, {"key": "1" * 32, "pid": 1001}) == (Kind.DONE, {"killed": 1})
    assert ask(handler, Kind.KILL, {"session": "s1"}) == (Kind.DONE, {"killed": 1})
    assert ask(handler, Kind.KILL, {"match": "33333"}) == (Kind.DONE, {"killed": 0})  # too short
    assert ask(handler, Kind.KILL, {"match": "333333"}) == (Kind.DONE, {"killed": 1})
    assert (1003, EVICT) in table.signals and (1002, SESSION_ENDED) in table.signals


def test_a_changed_source_renews_before_a_new_process_only() -> None:
    renewed: list[dict[str, Any]] = []
    handler = requests(
        FakeTable(), source_changed=lambda: True, renew=lambda _, req: renewed.append(req)
    )
    ask(handler, Kind.SPAWN, {"key": KEY})
    assert renewed == [{"key": KEY}]
    ask(handler, Kind.SPAWN, {"key": KEY})  # it exists: no renewal for a page reload
    assert len(renewed) == 1


def test_leases_say_when_to_ask_about_the_server() -> None:
    clock = Clock()
    leases = Leases(1.0, clock)
    assert not leases.due()  # a new template waits one grace for its first worker
    clock.now += 1.0
    assert leases.due()
    leases.take("w1")
    leases.take("w2")
    clock.now += 10
    assert not leases.due() and leases.deadline() is None
    leases.lose("w1")  # a worker killed: the other still holds one
    assert not leases.due()
    leases.lose("w2")
    assert not leases.due()
    clock.now += 1.0
    assert leases.due()
    leases.still_needed()  # the server still listens: ask again after another grace
    assert not leases.due()


def test_a_goodbye_asks_about_the_server_at_once() -> None:
    leases = Leases(5.0, Clock())
    leases.take("w")
    leases.give_back("w")
    assert leases.due()


def test_lease_and_bye_frames_update_the_leases() -> None:
    handler = requests(FakeTable())
    assert handler.handle("w", Kind.LEASE, b"") is None
    assert len(handler.leases) == 1
    assert handler.handle("w", Kind.BYE, b"") is None
    assert len(handler.leases) == 0 and handler.leases.due()
    with pytest.raises(ValueError, match="unexpected"):
        handler.handle("w", Kind.HTML, b"")


def test_a_gone_server_keeps_the_processes_for_a_restart_then_stops_them() -> None:
    """The server stopped: ask again every grace; a new server's lease within restart_grace
    adopts the template; gone for restart_grace, it is time to stop."""
    clock = Clock()
    leases = Leases(1.0, clock, restart_grace=30.0)
    leases.take("old worker")
    leases.give_back("old worker")  # the server shut down
    assert leases.due() and not leases.server_gone()  # not listening: wait for a restart
    assert leases.waiting_for_server() == 30.0
    assert not leases.due()
    clock.now += 1.0
    assert leases.due() and not leases.server_gone()  # asked again after a grace
    leases.take("new worker")  # a restarted server on the same address: adopted
    assert leases.waiting_for_server() is None and leases.deadline() is None
    leases.give_back("new worker")
    assert not leases.server_gone()
    clock.now += 29.5
    assert leases.due() and not leases.server_gone()
    clock.now += 0.5
    assert leases.due() and leases.server_gone()  # gone for 30 s: stop


def test_a_server_listening_again_restarts_the_wait() -> None:
    clock = Clock()
    leases = Leases(1.0, clock, restart_grace=5.0)
    leases.give_back("w")
    assert not leases.server_gone()
    clock.now += 4.0
    leases.still_needed()  # a new server listens, and has not used this App yet
    clock.now += 4.0
    assert not leases.server_gone()  # gone again: a fresh restart_grace
