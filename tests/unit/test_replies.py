"""The replies a user process remembers for resent interactions (proc/replies.py)."""

from __future__ import annotations

from htagweb_asgi.proc.pagewire import InteractionId
from htagweb_asgi.proc.replies import Answer, ReplyCache, Seen

A, B = "a" * 16, "b" * 16


def answer(size: int = 10) -> Answer:
    return Answer(b"x" * size, after=0)


def test_an_answered_interaction_is_answered_again_and_never_new() -> None:
    cache = ReplyCache()
    first = InteractionId(A, 1)
    assert cache.look_up(first) == (Seen.NEW, None)
    cache.begin(first)
    cache.keep(first, answer())
    assert cache.look_up(first) == (Seen.ANSWERED, answer())
    assert cache.look_up(InteractionId(A, 2)) == (Seen.NEW, None)


def test_a_resend_whose_answer_is_gone_is_forgotten_not_new() -> None:
    cache = ReplyCache(max_replies=2)
    for n in (1, 2, 3):
        cache.begin(InteractionId(A, n))
        cache.keep(InteractionId(A, n), answer())
    assert len(cache) == 2
    assert cache.look_up(InteractionId(A, 1)) == (Seen.FORGOTTEN, None)
    assert cache.look_up(InteractionId(A, 3))[0] is Seen.ANSWERED


def test_the_bytes_kept_are_bounded() -> None:
    cache = ReplyCache(max_bytes=100)
    for n in range(1, 11):
        cache.begin(InteractionId(A, n))
        cache.keep(InteractionId(A, n), answer(30))
    assert cache.kept_bytes <= 100 and len(cache) == 3
    cache.begin(InteractionId(A, 11))
    cache.keep(InteractionId(A, 11), answer(101))  # alone over the bound: not kept
    assert cache.look_up(InteractionId(A, 11)) == (Seen.FORGOTTEN, None)


def test_a_begun_interaction_without_an_answer_is_forgotten() -> None:
    """Run, and its answer was not kept (too big): a resend must not run it again."""
    cache = ReplyCache()
    cache.begin(InteractionId(A, 1))
    assert cache.look_up(InteractionId(A, 1)) == (Seen.FORGOTTEN, None)


def test_pages_are_apart_and_their_records_bounded() -> None:
    cache = ReplyCache(max_pages=1)
    cache.begin(InteractionId(A, 1))
    assert cache.look_up(InteractionId(B, 1)) == (Seen.NEW, None)
    cache.begin(InteractionId(B, 1))
    # A's record is gone: its 2 may or may not have run, so it is never taken as new
    assert cache.look_up(InteractionId(A, 2)) == (Seen.FORGOTTEN, None)
    assert cache.look_up(InteractionId(B, 2)) == (Seen.NEW, None)
