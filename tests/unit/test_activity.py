"""The activity board: what a user process records, as its template reads it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from htagweb_asgi.proc.activity import ActivityBoard, Usage
from tests.support.clock import FakeClock

Board = tuple[ActivityBoard, FakeClock]


@pytest.fixture
def board() -> Iterator[tuple[ActivityBoard, FakeClock]]:
    clock = FakeClock(100.0)
    made = ActivityBoard(4, clock=clock)
    yield made, clock
    made.close()


def test_a_new_slot_is_active_now_unused_and_not_attached(
    board: tuple[ActivityBoard, FakeClock],
) -> None:
    made, _ = board
    slot = made.allocate()
    assert slot is not None and made.usage(slot) == Usage(100.0, 0, False)


def test_attach_interactions_and_time(board: Board) -> None:
    made, clock = board
    slot = made.allocate()
    assert slot is not None
    clock.advance(5)
    made.attached(slot)
    assert made.usage(slot) == Usage(100.0, 0, True)  # attaching is not activity
    clock.advance(5)
    made.interacted(slot)
    made.interacted(slot)
    assert made.usage(slot) == Usage(110.0, 2, True)


def test_an_interaction_counts_as_attached(board: Board) -> None:
    made, _ = board
    slot = made.allocate()
    assert slot is not None
    made.interacted(slot)
    assert made.usage(slot).attached


def test_a_slot_given_back_starts_afresh(board: Board) -> None:
    made, clock = board
    slots = [made.allocate() for _ in range(4)]
    assert made.allocate() is None
    first = slots[0]
    assert first is not None
    made.interacted(first)
    made.release(first)
    clock.advance(1)
    assert made.allocate() == first and made.usage(first) == Usage(101.0, 0, False)


def test_another_mapping_of_the_same_board_sees_the_same_slots(
    board: tuple[ActivityBoard, FakeClock],
) -> None:
    made, clock = board
    slot = made.allocate()
    assert slot is not None
    other = ActivityBoard(4, fd=made.fd, clock=clock)  # as a spawned user process maps it
    clock.advance(3)
    other.interacted(slot)
    assert made.usage(slot) == Usage(103.0, 1, True)
