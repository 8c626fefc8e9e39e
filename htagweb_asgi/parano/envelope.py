"""The wire format of ``parano`` messages between the page and its user process (sans-IO).

Three kinds of binary message, the first byte saying which::

    HELLO    01 | page public key (32)                     page → process
    WELCOME  02 | process public key (32) | session id (16)  process → page
    SEALED   03 | session id (16) | counter (8, big-endian) | AES-256-GCM ciphertext + tag (16)

The first 25 bytes of SEALED are its header, authenticated as the AEAD's associated data.
This module imports no cryptography: the host uses it to check the *shape* of what it relays
(it never holds a key), the user process and the page's peers in tests build on it.
"""

from __future__ import annotations

import struct

from htagweb_asgi.errors import HtagwebError

HELLO = 0x01
WELCOME = 0x02
SEALED = 0x03

PUBLIC_BYTES = 32
SESSION_ID_BYTES = 16
TAG_BYTES = 16
HEADER = struct.Struct(">B16sQ")  # kind, session id, counter
HELLO_SIZE = 1 + PUBLIC_BYTES
WELCOME_SIZE = 1 + PUBLIC_BYTES + SESSION_ID_BYTES
MIN_SEALED_SIZE = HEADER.size + TAG_BYTES

PLAINTEXT_REFUSED = "this application is parano: plaintext messages are refused"


class EnvelopeError(HtagwebError):
    """Raised by the parsers below for a message that is not the expected envelope."""


def is_envelope(message: bytes) -> bool:
    """Whether `message` has the shape of a HELLO or a SEALED message (what a page sends).

    The host relays only such messages to a parano App; anything else is plaintext (or
    garbage) and is refused before it reaches the process.
    """
    if not message:
        return False
    if message[0] == HELLO:
        return len(message) == HELLO_SIZE
    return message[0] == SEALED and len(message) >= MIN_SEALED_SIZE


def hello(public: bytes) -> bytes:
    return bytes((HELLO,)) + public


def parse_hello(message: bytes) -> bytes:
    """The page's public key."""
    if len(message) != HELLO_SIZE or message[0] != HELLO:
        raise EnvelopeError("not a key agreement request")
    return message[1:]


def welcome(public: bytes, session_id: bytes) -> bytes:
    return bytes((WELCOME,)) + public + session_id


def parse_welcome(message: bytes) -> tuple[bytes, bytes]:
    """The process's public key and the session id it chose."""
    if len(message) != WELCOME_SIZE or message[0] != WELCOME:
        raise EnvelopeError("not a key agreement answer")
    return message[1 : 1 + PUBLIC_BYTES], message[1 + PUBLIC_BYTES :]


def sealed_header(session_id: bytes, counter: int) -> bytes:
    return HEADER.pack(SEALED, session_id, counter)


def parse_sealed(message: bytes) -> tuple[bytes, int, bytes, bytes]:
    """Return (session id, counter, header, ciphertext with its tag)."""
    if len(message) < MIN_SEALED_SIZE or message[0] != SEALED:
        raise EnvelopeError("not a sealed message")
    _, session_id, counter = HEADER.unpack_from(message)
    return session_id, counter, message[: HEADER.size], message[HEADER.size :]
