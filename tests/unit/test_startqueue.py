"""New users waiting for an interpreter start on the portable path (startqueue.py,
startgate.py, and the template's requests around them), driven without a process."""

from __future__ import annotations

from dataclasses import replace

from htagweb_asgi.proc.startgate import STALL, StartGate
from htagweb_asgi.proc.startqueue import MAX_WAIT
from htagweb_asgi.protocol.frames import Kind, encode_json
from tests.unit.test_template_requests import CONFIG, Clock, FakeTable, reply, requests

KEYS = [f"{n:032x}" for n in range(1, 6)]


def spawn(handler: object, holder: str, key: str, client: str = "") -> bytes | None:
    body = encode_json(Kind.SPAWN, {"key": key, "client": client})[5:]
    return handler.handle(holder, Kind.SPAWN, body)  # type: ignore[attr-defined]


def test_new_users_wait_their_turn_in_order_and_one_process_per_key() -> None:
    table = FakeTable(capacity=100, startable=False)
    handler = requests(table)
    assert spawn(handler, "w1", KEYS[0]) is None  # no start possible: it waits
    assert spawn(handler, "w2", KEYS[1]) is None
    assert spawn(handler, "w3", KEYS[0]) is None  # the same key: behind the first
    assert handler.serve_waiting() == []  # still nothing may start
    table.startable = True
    served = [(holder, reply(frame)) for holder, frame in handler.serve_waiting()]
    assert served == [
        ("w1", (Kind.SPAWNED, {"pid": 1001, "existed": False})),
        ("w2", (Kind.SPAWNED, {"pid": 1002, "existed": False})),
        ("w3", (Kind.SPAWNED, {"pid": 1001, "existed": True})),
    ]
    assert reply(spawn(handler, "w4", KEYS[2]))[0] is Kind.SPAWNED  # nobody waits: at once


def test_a_newcomer_waits_behind_those_already_waiting() -> None:
    """Even when a start is possible at that moment: the ones before it go first."""
    table = FakeTable(capacity=100, startable=False)
    handler = requests(table)
    spawn(handler, "w1", KEYS[0])
    table.startable = True
    assert spawn(handler, "w2", KEYS[1]) is None
    assert [holder for holder, _ in handler.serve_waiting()] == ["w1", "w2"]


def test_a_user_waiting_too_long_is_told_busy_and_keeps_its_budget() -> None:
    clock = Clock()
    config = replace(CONFIG, new_process_burst=1, new_process_rate=0.001)
    table = FakeTable(capacity=100, startable=False)
    handler = requests(table, config=config, clock=clock)
    assert spawn(handler, "w1", KEYS[0], client="10.0.0.1") is None
    clock.now += MAX_WAIT - 0.1
    assert handler.serve_waiting() == []
    clock.now += 0.1
    [(holder, frame)] = handler.serve_waiting()
    kind, said = reply(frame)
    assert holder == "w1" and kind is Kind.FAIL and said["full"] is True  # 503, Retry-After
    assert "starting at once" in said["message"]
    table.startable = True  # the token came back: the address may start one at once
    assert reply(spawn(handler, "w2", KEYS[0], client="10.0.0.1"))[0] is Kind.SPAWNED


def test_a_request_whose_worker_left_starts_nothing() -> None:
    table = FakeTable(capacity=100, startable=False)
    handler = requests(table)
    spawn(handler, "w1", KEYS[0])
    spawn(handler, "w2", KEYS[1])
    handler.forget("w1")
    table.startable = True
    assert [holder for holder, _ in handler.serve_waiting()] == ["w2"]
    assert list(table.current) == [KEYS[1]]


def test_the_gate_lets_a_few_start_at_once_until_they_are_up() -> None:
    clock = Clock()
    gate = StartGate(2, clock)
    gate.started(1)
    assert gate.open()
    gate.started(2)
    assert not gate.open() and gate.is_starting(1)
    gate.up(1)  # its WARM frame, or its link closed
    assert gate.open() and not gate.is_starting(1)
    gate.started(3)
    clock.now += STALL  # 2 and 3 never said they are up: they stop holding the gate back
    assert gate.open() and not gate.is_starting(2)
