"""One ``parano`` key agreement, and the sealing and opening of messages under it (sans-IO).

Key schedule, the same in the page (static/client.js, WebCrypto) and here (pynacl)::

    shared = X25519(own private key, peer public key)           all zeros: refused
    okm    = HKDF-SHA256(ikm=shared, salt=page public | process public,
                         info="htagweb-asgi parano v1" | session id, length=88)
    page→process: key okm[0:32],  iv okm[64:76]
    process→page: key okm[32:64], iv okm[76:88]

Message n of a direction (n counts from 0) is sealed with AES-256-GCM under that direction's
key, nonce = iv XOR (n as 12 bytes big-endian) as in TLS 1.3, and its 25-byte header as
associated data: a nonce never repeats under a key, and moving a message to another session,
direction or position breaks its tag. A receiver accepts only the next counter on a websocket
(an ordered stream: anything else is a replay, a reorder or a deletion), and only increasing
counters over HTTP (a lost request or reply leaves a gap, a replay still fails).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal, Protocol

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.parano import envelope, primitives

INFO = b"htagweb-asgi parano v1"
OKM_BYTES = 88
MAX_COUNTER = 2**64 - 1


class ChannelError(HtagwebError):
    """Raised by :meth:`SecureSession.open` and the handshakes for a message to refuse:
    malformed, altered, replayed, reordered, or sealed for another session."""


class Cipher(Protocol):
    """AES-256-GCM under one key: :class:`~htagweb_asgi.parano.primitives.AesGcm` (libsodium), or
    another implementation for a Python page (the benchmark's client may use OpenSSL).
    ``open`` raises :class:`~htagweb_asgi.parano.primitives.DecryptionFailed` for a bad tag."""

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...


CipherFactory = Callable[[bytes], Cipher]


class _Direction:
    """One direction's key, IV and counter (the next to send, or the lowest acceptable)."""

    def __init__(self, key: bytes, iv: bytes, cipher: CipherFactory) -> None:
        self.cipher = cipher(key)
        self._iv = int.from_bytes(iv, "big")
        self.counter = 0

    def nonce(self, counter: int) -> bytes:
        return (self._iv ^ counter).to_bytes(primitives.NONCE_BYTES, "big")


class SecureSession:
    """The keys and counters of one side (the page or the process) of one key agreement."""

    def __init__(
        self, session_id: bytes, sending: _Direction, receiving: _Direction, *, strict: bool
    ) -> None:
        self.session_id = session_id
        self.strict = strict
        self._sending = sending
        self._receiving = receiving

    @classmethod
    def derive(
        cls,
        shared: bytes,
        page_public: bytes,
        process_public: bytes,
        session_id: bytes,
        *,
        side: Literal["page", "process"],
        strict: bool,
        cipher: CipherFactory = primitives.AesGcm,
    ) -> SecureSession:
        okm = primitives.hkdf_sha256(
            shared, page_public + process_public, INFO + session_id, OKM_BYTES
        )
        up = _Direction(okm[0:32], okm[64:76], cipher)
        down = _Direction(okm[32:64], okm[76:88], cipher)
        if side == "page":
            return cls(session_id, up, down, strict=strict)
        return cls(session_id, down, up, strict=strict)

    def seal(self, plaintext: bytes) -> bytes:
        """The SEALED message carrying `plaintext`, under the next counter."""
        counter = self._sending.counter
        if counter > MAX_COUNTER:
            raise ChannelError("this session sealed all the messages it may")
        self._sending.counter = counter + 1
        header = envelope.sealed_header(self.session_id, counter)
        nonce = self._sending.nonce(counter)
        return header + self._sending.cipher.seal(nonce, plaintext, header)

    def open(self, message: bytes) -> bytes:
        """The plaintext of a SEALED `message`; ChannelError (state unchanged) to refuse it."""
        try:
            session_id, counter, header, ciphertext = envelope.parse_sealed(message)
        except envelope.EnvelopeError as exc:
            raise ChannelError(str(exc)) from None
        if session_id != self.session_id:
            raise ChannelError("a message sealed for another session")
        expected = self._receiving.counter
        if counter < expected:
            raise ChannelError("a replayed or reordered message")
        if self.strict and counter != expected:
            raise ChannelError("a message is missing or out of order")
        try:
            plaintext = self._receiving.cipher.open(
                self._receiving.nonce(counter), ciphertext, header
            )
        except primitives.DecryptionFailed as exc:
            raise ChannelError(str(exc)) from None
        self._receiving.counter = counter + 1
        return plaintext


def accept(hello: bytes, *, strict: bool) -> tuple[SecureSession, bytes]:
    """The process's side: answer a page's HELLO with a fresh key pair and session id.

    Returns the session and the WELCOME message to send back; ChannelError for a bad HELLO.
    """
    try:
        page_public = envelope.parse_hello(hello)
    except envelope.EnvelopeError as exc:
        raise ChannelError(str(exc)) from None
    private, public = primitives.x25519_keypair()
    try:
        shared = primitives.x25519(private, page_public)
    except primitives.DecryptionFailed as exc:
        raise ChannelError(str(exc)) from None
    session_id = os.urandom(envelope.SESSION_ID_BYTES)
    session = SecureSession.derive(
        shared, page_public, public, session_id, side="process", strict=strict
    )
    return session, envelope.welcome(public, session_id)


class PageHandshake:
    """The page's side of a key agreement, in Python: for tests and the benchmark's client
    (the page itself does this in static/client.js)."""

    def __init__(self) -> None:
        self._private, self.public = primitives.x25519_keypair()
        self.hello = envelope.hello(self.public)

    def complete(
        self, welcome: bytes, *, strict: bool, cipher: CipherFactory = primitives.AesGcm
    ) -> SecureSession:
        """The session a process's WELCOME answers; ChannelError for a bad one."""
        try:
            process_public, session_id = envelope.parse_welcome(welcome)
            shared = primitives.x25519(self._private, process_public)
        except (envelope.EnvelopeError, primitives.DecryptionFailed) as exc:
            raise ChannelError(str(exc)) from None
        return SecureSession.derive(
            shared,
            self.public,
            process_public,
            session_id,
            side="page",
            strict=strict,
            cipher=cipher,
        )
