"""Frames between host, template and user processes (sans-IO)."""

from __future__ import annotations

import pytest

from htagweb_asgi.protocol.frames import (
    HEADER_SIZE,
    FrameDecoder,
    FrameError,
    Kind,
    encode,
    encode_json,
    parse_header,
)


def test_a_frame_is_length_then_type_then_payload() -> None:
    """4-byte big-endian length (type + payload), 1 type byte, payload."""
    assert encode(Kind.INTERACT, b"{}") == b"\x00\x00\x00\x03I{}"
    assert encode_json(Kind.SPAWN, {"key": "k"}) == b'\x00\x00\x00\x0cS{"key":"k"}'


def test_the_decoder_reassembles_frames_split_anywhere() -> None:
    """Bytes arriving one at a time still give whole frames, in order."""
    stream = encode(Kind.PUSH, b"abc") + encode(Kind.REPLY, b"") + encode(Kind.HTML, b"x" * 300)
    decoder = FrameDecoder()
    frames = []
    for i in range(len(stream)):
        frames += decoder.feed(stream[i : i + 1])
    assert frames == [(Kind.PUSH, b"abc"), (Kind.REPLY, b""), (Kind.HTML, b"x" * 300)]


def test_oversized_and_empty_lengths_are_refused() -> None:
    """A length over the maximum, or zero (no type byte), breaks the protocol."""
    with pytest.raises(FrameError, match="outside"):
        parse_header(encode(Kind.PUSH, b"x" * 11)[:HEADER_SIZE], max_frame=10)
    with pytest.raises(FrameError):
        parse_header(b"\x00\x00\x00\x00P")
    with pytest.raises(FrameError, match="outside"):
        FrameDecoder(max_frame=8).feed(encode(Kind.PUSH, b"x" * 100))


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(FrameError, match="unknown frame type"):
        parse_header(b"\x00\x00\x00\x01Z")
