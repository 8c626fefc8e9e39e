"""Which process the cap evicts: the least recently active of those idle for evict_after,
read from a real activity board driven by a fake clock (no process, no waiting)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.children import Child, eviction_victim
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
    return eviction_victim(children, board.last_activity, board.clock(), evict_after)


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
