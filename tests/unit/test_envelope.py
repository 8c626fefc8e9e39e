"""The shape of parano messages, as the host checks it before relaying (sans-IO)."""

from __future__ import annotations

import json

import pytest

from htagweb_asgi.parano import envelope


def test_what_a_page_may_send() -> None:
    assert envelope.is_envelope(envelope.hello(bytes(32)))
    assert envelope.is_envelope(envelope.sealed_header(bytes(16), 7) + bytes(16))
    assert envelope.is_envelope(envelope.sealed_header(bytes(16), 7) + bytes(500))


@pytest.mark.parametrize(
    "message",
    [
        b"",
        json.dumps({"id": 1, "method": "increment"}).encode(),  # plaintext
        b"\x01" + bytes(31),  # a HELLO one byte short
        b"\x01" + bytes(33),  # or long
        envelope.welcome(bytes(32), bytes(16)),  # only the process sends that
        envelope.sealed_header(bytes(16), 0) + bytes(15),  # no room for a tag
        b"\x04" + bytes(64),
    ],
)
def test_what_the_host_refuses(message: bytes) -> None:
    assert not envelope.is_envelope(message)


def test_round_trips() -> None:
    assert envelope.parse_hello(envelope.hello(b"k" * 32)) == b"k" * 32
    assert envelope.parse_welcome(envelope.welcome(b"k" * 32, b"s" * 16)) == (b"k" * 32, b"s" * 16)
    header = envelope.sealed_header(b"s" * 16, 2**64 - 1)
    assert len(header) == 25
    assert envelope.parse_sealed(header + b"c" * 16) == (b"s" * 16, 2**64 - 1, header, b"c" * 16)


def test_parsers_refuse_other_kinds() -> None:
    hello = envelope.hello(bytes(32))
    with pytest.raises(envelope.EnvelopeError):
        envelope.parse_welcome(hello)
    with pytest.raises(envelope.EnvelopeError):
        envelope.parse_sealed(hello)
    with pytest.raises(envelope.EnvelopeError):
        envelope.parse_hello(envelope.welcome(bytes(32), bytes(16)))
