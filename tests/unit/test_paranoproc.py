"""What a user process accepts on a parano connection (sans-IO: the link, not the socket)."""

from __future__ import annotations

import pytest

from htagweb_asgi.parano.agreement import PageHandshake, SecureSession
from htagweb_asgi.parano.link import HttpSessions, ParanoLink
from htagweb_asgi.protocol.codes import Close, Rejected


def agree(link: ParanoLink, *, strict: bool) -> SecureSession:
    page = PageHandshake()
    assert link.is_handshake(page.hello)
    return page.complete(link.handshake(page.hello), strict=strict)


def refused(action: object, *args: bytes) -> str:
    with pytest.raises(Rejected) as caught:
        action(*args)  # type: ignore[operator]
    assert caught.value.code == Close.CHANNEL_BROKEN
    return caught.value.reason


def test_a_websocket_link_agrees_once_then_carries_sealed_messages() -> None:
    link = ParanoLink(HttpSessions(), websocket=True)
    assert not link.can_push  # before the key agreement nothing may go out
    page = agree(link, strict=True)
    assert link.can_push
    assert link.open(page.seal(b"click")) == b"click"
    assert page.open(link.seal(b"reply")) == b"reply"
    assert page.open(link.seal(b"push")) == b"push"


def test_a_websocket_link_refuses_and_then_stays_closed() -> None:
    link = ParanoLink(HttpSessions(), websocket=True)
    assert "before the key agreement" in refused(link.open, b"\x03" + bytes(40))
    # after a refusal, even a genuine key agreement is refused: the page must reconnect
    assert "failed earlier" in refused(link.handshake, PageHandshake().hello)


def test_a_second_key_agreement_on_one_websocket_is_refused() -> None:
    link = ParanoLink(HttpSessions(), websocket=True)
    agree(link, strict=True)
    assert "second key agreement" in refused(link.handshake, PageHandshake().hello)


def test_a_replay_on_a_websocket_breaks_the_link() -> None:
    link = ParanoLink(HttpSessions(), websocket=True)
    page = agree(link, strict=True)
    message = page.seal(b"click")
    link.open(message)
    assert "replayed" in refused(link.open, message)
    assert not link.can_push
    assert "failed earlier" in refused(link.open, page.seal(b"next"))


def test_plaintext_is_refused_even_if_the_host_let_it_through() -> None:
    link = ParanoLink(HttpSessions(), websocket=True)
    agree(link, strict=True)
    refused(link.open, b'{"id": 1, "method": "increment", "args": [], "kargs": {}}')


def test_http_exchanges_find_their_session_by_id() -> None:
    """Each POST is a new connection: the session lives in the process's table."""
    sessions = HttpSessions()
    page = agree(ParanoLink(sessions, websocket=False), strict=False)
    for n in range(3):
        link = ParanoLink(sessions, websocket=False)  # one per POST
        assert link.open(page.seal(b"click %d" % n)) == b"click %d" % n
        assert page.open(link.seal(b"reply %d" % n)) == b"reply %d" % n
        assert not link.can_push  # HTTP never pushes


def test_a_bad_post_is_refused_but_the_page_goes_on() -> None:
    """A replayed or forged POST is refused; the page's session stays usable."""
    sessions = HttpSessions()
    page = agree(ParanoLink(sessions, websocket=False), strict=False)
    first = page.seal(b"1")
    ParanoLink(sessions, websocket=False).open(first)
    assert "replayed" in refused(ParanoLink(sessions, websocket=False).open, first)
    forged = bytearray(page.seal(b"2"))
    forged[-1] ^= 1
    assert "altered" in refused(ParanoLink(sessions, websocket=False).open, bytes(forged))
    assert ParanoLink(sessions, websocket=False).open(page.seal(b"3")) == b"3"


def test_unknown_http_sessions_and_the_table_bound() -> None:
    sessions = HttpSessions(limit=2)
    pages = [agree(ParanoLink(sessions, websocket=False), strict=False) for _ in range(3)]
    # the oldest was dropped: its page must agree on keys again
    reason = refused(ParanoLink(sessions, websocket=False).open, pages[0].seal(b"x"))
    assert "unknown session" in reason
    for page in pages[1:]:
        assert ParanoLink(sessions, websocket=False).open(page.seal(b"y")) == b"y"


def test_sealing_without_a_key_agreement_is_a_bug_not_plaintext() -> None:
    with pytest.raises(RuntimeError):
        ParanoLink(HttpSessions(), websocket=True).seal(b"reply")
