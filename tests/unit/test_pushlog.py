"""Numbered pushes kept for the pages that come back (proc/pushlog.py)."""

from __future__ import annotations

from htagweb_asgi.proc.pushlog import PushLog

A, B = "a" * 16, "b" * 16


def seqs(entries: list | None) -> list[int] | None:  # type: ignore[type-arg]
    return None if entries is None else [entry.seq for entry in entries]


def test_a_page_gets_the_pushes_after_the_one_it_has() -> None:
    log = PushLog()
    for n in range(5):
        log.append(b"%d" % n)
    assert seqs(log.since(2, A)) == [3, 4, 5]
    assert seqs(log.since(5, A)) == []
    assert seqs(log.since(0, A)) == [1, 2, 3, 4, 5]


def test_a_page_that_missed_pushes_no_longer_kept_gets_a_full_rendering() -> None:
    log = PushLog(max_entries=3)
    for n in range(10):
        log.append(b"%d" % n)
    assert len(log) == 3
    assert seqs(log.since(7, A)) == [8, 9, 10]
    assert log.since(6, A) is None


def test_memory_is_bounded_whatever_an_app_pushes_with_no_page() -> None:
    log = PushLog(max_entries=1000, max_bytes=1000)
    for _ in range(10_000):
        log.append(b"x" * 100)
    assert log.kept_bytes <= 1000 and len(log) == 10 and log.seq == 10_000
    log.append(b"y" * 5000)  # alone over the bound: not kept, so a full rendering
    assert len(log) == 0 and log.since(10_000, A) is None and log.since(10_001, A) == []


def test_numbers_it_never_gave_mean_a_full_rendering() -> None:
    log = PushLog()
    log.append(b"1")
    assert log.since(-1, A) is None and log.since(2, A) is None


def test_an_interactions_effect_is_for_the_other_pages() -> None:
    log = PushLog()
    log.append(b"push")
    log.append(b"effect of A", origin=A, echo=True)
    assert seqs(log.since(0, A)) == [1]
    assert seqs(log.since(0, B)) == [1, 2]
    assert log.last_for(A) == 1 and log.last_for(B) == 2


def test_an_effect_nobody_took_has_the_other_pages_render_everything() -> None:
    log = PushLog()
    log.append(None, origin=A, echo=True)
    assert log.since(0, A) == [] and log.since(0, B) is None
