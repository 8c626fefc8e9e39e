"""Whom eviction ends to make room: among processes idle for evict_after, never-attached
page loads first, then the least used, then the least recently active; read from a real
activity board driven by a fake clock (no process, no waiting), and from fake usages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from htagweb_asgi.proc import eviction
from htagweb_asgi.proc.activity import ActivityBoard, Usage
from htagweb_asgi.proc.children import Child
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def board(clock: FakeClock) -> Iterator[ActivityBoard]:
    made = ActivityBoard(4, clock=clock)
    yield made
    made.close()


def started(board: ActivityBoard, name: str) -> Child:
    """A process that gets its slot now (allocating a slot marks it active)."""
    slot = board.allocate()
    assert slot is not None
    return Child(name, 1000 + slot, slot, board.clock(), f"/nowhere/{name}.sock")


@pytest.fixture
def three(board: ActivityBoard, clock: FakeClock) -> tuple[Child, Child, Child]:
    """a, b, c started 1 s apart; a active again 5 s after c started; now 12 s after a
    started: idle for 5 (a), 11 (b) and 10 (c) seconds."""
    a = started(board, "a")
    clock.advance(1)
    b = started(board, "b")
    clock.advance(1)
    c = started(board, "c")
    clock.advance(5)
    board.touch(a.slot)
    clock.advance(5)
    return a, b, c


def victim(board: ActivityBoard, children: tuple[Child, ...], evict_after: float) -> Child | None:
    return eviction.victim(children, board.usage, board.clock(), evict_after)


def test_the_least_recently_active_of_the_idle_processes_is_chosen(
    board: ActivityBoard, three: tuple[Child, Child, Child]
) -> None:
    a, b, c = three
    assert victim(board, three, evict_after=10) is b
    assert victim(board, (a, c), evict_after=10) is c
    assert victim(board, three, evict_after=0) is b


def test_a_process_active_within_evict_after_is_never_chosen(
    board: ActivityBoard, three: tuple[Child, Child, Child]
) -> None:
    a, b, _ = three
    assert victim(board, three, evict_after=11) is b  # idle exactly evict_after: evictable
    assert victim(board, three, evict_after=11.5) is None
    assert victim(board, (a,), evict_after=6) is None


def test_activity_takes_a_process_out_of_the_running(
    board: ActivityBoard, clock: FakeClock, three: tuple[Child, Child, Child]
) -> None:
    _, b, c = three
    board.touch(b.slot)
    assert victim(board, three, evict_after=10) is c
    clock.advance(1)
    board.touch(c.slot)
    assert victim(board, three, evict_after=10) is None  # idle for 6, 1 and 0 seconds
    clock.advance(9)
    assert victim(board, three, evict_after=10) is three[0]  # idle for 15, 10 and 9
    assert victim(board, (b, c), evict_after=10) is b


# -- the order, from usages as the user processes record them ----------------------------
NOW = 1000.0
EVICT_AFTER = 10.0


@dataclass(frozen=True)
class Proc:
    name: str
    slot: int
    started: float


def pick(*procs: tuple[Proc, Usage]) -> str | None:
    usage = {proc.slot: used for proc, used in procs}
    chosen = eviction.victim([proc for proc, _ in procs], usage.__getitem__, NOW, EVICT_AFTER)
    return None if chosen is None else chosen.name


def proc(name: str, slot: int, *, started: float, last: float, uses: int, attached: bool):  # type: ignore[no-untyped-def]
    return Proc(name, slot, started), Usage(last, uses, attached)


def test_a_page_load_that_never_attached_goes_first_even_if_more_recent() -> None:
    reader = proc("reader", 0, started=0, last=NOW - 500, uses=0, attached=True)
    crawler = proc("crawler", 1, started=NOW - 20, last=NOW - 20, uses=0, attached=False)
    assert pick(reader, crawler) == "crawler"


def test_among_never_attached_the_least_recently_loaded() -> None:
    old = proc("old", 0, started=NOW - 50, last=NOW - 50, uses=0, attached=False)
    new = proc("new", 1, started=NOW - 15, last=NOW - 15, uses=0, attached=False)
    reloaded = proc("reloaded", 2, started=NOW - 90, last=NOW - 12, uses=0, attached=False)
    assert pick(new, old, reloaded) == "old"


def test_then_the_least_used_then_the_least_recently_active() -> None:
    busy = proc("busy", 0, started=0, last=NOW - 900, uses=50, attached=True)
    light = proc("light", 1, started=0, last=NOW - 20, uses=2, attached=True)
    lighter = proc("lighter", 2, started=0, last=NOW - 30, uses=1, attached=True)
    also = proc("also", 3, started=0, last=NOW - 60, uses=1, attached=True)
    assert pick(busy, light, lighter, also) == "also"
    assert pick(busy, light) == "light"


def test_never_someone_active_within_evict_after() -> None:
    engaged = proc("engaged", 0, started=0, last=NOW - 5, uses=1, attached=True)
    just_loaded = proc("loading", 1, started=NOW - 2, last=NOW - 2, uses=0, attached=False)
    assert pick(engaged, just_loaded) is None
    assert pick() is None
