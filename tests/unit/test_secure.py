"""A parano key agreement and its messages: both sides agree, and every forgery is refused."""

from __future__ import annotations

import pytest

from bench.parano_cost import OpenSSLAesGcm  # one OpenSSL page cipher, shared with the bench
from htagweb_asgi.parano import envelope, primitives
from htagweb_asgi.parano.agreement import ChannelError, PageHandshake, SecureSession, accept


def pair(strict: bool = True) -> tuple[SecureSession, SecureSession]:
    """(page, process) sessions of one fresh key agreement."""
    page = PageHandshake()
    process, welcome = accept(page.hello, strict=strict)
    return page.complete(welcome, strict=strict), process


def test_both_sides_agree_in_both_directions() -> None:
    page, process = pair()
    assert page.session_id == process.session_id and len(page.session_id) == 16
    for n in range(3):
        assert process.open(page.seal(b"click %d" % n)) == b"click %d" % n
        assert page.open(process.seal(b"reply %d" % n)) == b"reply %d" % n


def test_the_key_schedule_and_nonce_layout() -> None:
    """A known answer recomputed from the spec in secure.py's docstring, step by step."""
    page_private, page_public = primitives.x25519_keypair()
    process_private, process_public = primitives.x25519_keypair()
    session_id = bytes(range(16))
    shared = primitives.x25519(page_private, process_public)
    okm = primitives.hkdf_sha256(
        shared, page_public + process_public, b"htagweb-asgi parano v1" + session_id, 88
    )
    page = SecureSession.derive(
        shared, page_public, process_public, session_id, side="page", strict=True
    )
    for counter in range(3):
        message = page.seal(b"hello")
        header = bytes([3]) + session_id + counter.to_bytes(8, "big")
        iv = okm[64:76]
        nonce = bytes(a ^ b for a, b in zip(iv, counter.to_bytes(12, "big"), strict=True))
        assert message == header + primitives.AesGcm(okm[0:32]).seal(nonce, b"hello", header)
    process = SecureSession.derive(
        primitives.x25519(process_private, page_public),
        page_public,
        process_public,
        session_id,
        side="process",
        strict=True,
    )
    reply = process.seal(b"actions")
    header = bytes([3]) + session_id + bytes(8)
    assert reply == header + primitives.AesGcm(okm[32:64]).seal(okm[76:88], b"actions", header)


def test_nonces_never_repeat() -> None:
    """The same plaintext sealed twice differs; counters count up from 0 per direction."""
    page, process = pair()
    sealed = [page.seal(b"same") for _ in range(5)]
    assert len(set(sealed)) == 5
    assert [envelope.parse_sealed(m)[1] for m in sealed] == [0, 1, 2, 3, 4]
    assert envelope.parse_sealed(process.seal(b"same"))[1] == 0


def test_a_tampered_message_is_refused_and_changes_nothing() -> None:
    """Any flipped bit (kind, session id, counter, ciphertext, tag) or a cut: refused; the
    genuine message still opens afterwards."""
    page, process = pair()
    message = page.seal(b'{"id": 1, "method": "increment"}')
    for position in (0, 1, 17, 24, 25, len(message) - 1):
        forged = bytearray(message)
        forged[position] ^= 0x01
        with pytest.raises(ChannelError):
            process.open(bytes(forged))
    for cut in (message[:-1], message[:40], message + b"\x00"):
        with pytest.raises(ChannelError):
            process.open(cut)
    assert process.open(message) == b'{"id": 1, "method": "increment"}'


def test_replay_and_reorder_are_refused_on_a_websocket() -> None:
    page, process = pair(strict=True)
    first, second, third = page.seal(b"1"), page.seal(b"2"), page.seal(b"3")
    with pytest.raises(ChannelError, match="missing or out of order"):
        process.open(second)  # reordered (or `first` deleted)
    assert process.open(first) == b"1"
    with pytest.raises(ChannelError, match="replayed"):
        process.open(first)
    assert process.open(second) == b"2"
    assert process.open(third) == b"3"


def test_http_sessions_accept_gaps_but_never_go_back() -> None:
    """Over HTTP a lost exchange leaves a gap; a replay or an older message is refused."""
    page, process = pair(strict=False)
    first, second, third = page.seal(b"1"), page.seal(b"2"), page.seal(b"3")
    assert process.open(second) == b"2"  # `first` was lost on the way
    for old in (first, second):
        with pytest.raises(ChannelError, match="replayed or reordered"):
            process.open(old)
    assert process.open(third) == b"3"


def test_messages_of_another_session_or_direction_are_refused() -> None:
    page, process = pair()
    other_page, _ = pair()
    with pytest.raises(ChannelError, match="another session"):
        process.open(other_page.seal(b"x"))
    with pytest.raises(ChannelError):
        page.open(page.seal(b"reflected"))  # our own message sent back to us
    # the same session id with other keys (an attacker's own key agreement) fails its tag
    forged = envelope.sealed_header(process.session_id, 0) + other_page.seal(b"x")[25:]
    with pytest.raises(ChannelError, match="altered"):
        process.open(forged)


def test_bad_handshakes_are_refused() -> None:
    for hello in (b"", b"\x01" + bytes(10), envelope.welcome(bytes(32), bytes(16))):
        with pytest.raises(ChannelError):
            accept(hello, strict=True)
    with pytest.raises(ChannelError, match="not acceptable"):
        accept(envelope.hello(bytes(32)), strict=True)  # a low-order point
    page = PageHandshake()
    with pytest.raises(ChannelError):
        page.complete(page.hello, strict=True)
    with pytest.raises(ChannelError):
        page.complete(envelope.welcome(bytes(32), bytes(16)), strict=True)


def test_each_agreement_has_its_own_keys() -> None:
    """Reconnecting makes a new key agreement: nothing of the old one opens in the new."""
    old_page, _ = pair()
    new_page, new_process = pair()
    assert old_page.session_id != new_page.session_id
    message = old_page.seal(b"x")
    forged = envelope.sealed_header(new_process.session_id, 0) + message[25:]
    with pytest.raises(ChannelError):
        new_process.open(forged)


def test_a_page_with_another_aes_gcm_talks_to_the_process() -> None:
    """The page's side sealing with OpenSSL and the process with libsodium agree, both ways,
    over many counters (the nonce layout is the same on both sides)."""
    handshake = PageHandshake()
    process, welcome = accept(handshake.hello, strict=True)
    page = handshake.complete(welcome, strict=True, cipher=OpenSSLAesGcm)
    for n in range(300):
        assert process.open(page.seal(b"click %d" % n)) == b"click %d" % n
        assert page.open(process.seal(b"reply %d" % n)) == b"reply %d" % n
    forged = bytearray(process.seal(b"x"))
    forged[-1] ^= 1
    with pytest.raises(ChannelError):
        page.open(bytes(forged))
