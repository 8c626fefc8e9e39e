"""Mutual proof of a shared secret when a connection opens (sans-IO).

Used by the cluster's link between nodes (the key derived from the session secret) and by
the portable path's loopback TCP channels (worker ↔ template, worker ↔ user process: the
template's own secret). Three frames:

1. the server: AUTH ``{"node": its name, "nonce": fresh}``;
2. the client: AUTH ``{"node", "nonce": fresh, "mac": proof("client", ...)}``;
3. the server, only if that proof holds: AUTH ``{"mac": proof("server", ...)}``, which the
   client checks in turn.

Each side proves it holds the key with an HMAC over both fresh nonces, its role and both
names: a peer without the key gets nothing but a closed connection, a recorded exchange
cannot be replayed, and a client never talks to a listener that took over a stale port.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from htagweb_asgi.protocol.frames import FrameError, Kind, encode_json, load_json

HANDSHAKE_FRAME = 64 * 1024  # bytes a frame may have before the peer is authenticated


def proof(
    key: bytes, role: str, server_nonce: str, client_nonce: str, client: str, server: str
) -> str:
    """The HMAC one side sends to show it holds `key` (hex)."""
    message = "\0".join((role, server_nonce, client_nonce, client, server)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fresh_nonce() -> str:
    return secrets.token_hex(16)


class ServerHandshake:
    """The accepting side: `challenge()` to send first, then `answer()` the client's AUTH."""

    def __init__(self, key: bytes, me: str) -> None:
        self._key = key
        self._me = me
        self._nonce = fresh_nonce()
        self.client = ""  # the client's name, once proven

    def challenge(self) -> bytes:
        return encode_json(Kind.AUTH, {"node": self._me, "nonce": self._nonce})

    def answer(self, kind: Kind, payload: bytes) -> bytes | None:
        """The frame proving our side, or None when the client did not prove its own."""
        if kind is not Kind.AUTH:
            return None
        try:
            hello: Any = load_json(payload)
        except FrameError:
            return None
        if not isinstance(hello, dict):
            return None
        client, client_nonce = str(hello.get("node", "")), str(hello.get("nonce", ""))
        expected = proof(self._key, "client", self._nonce, client_nonce, client, self._me)
        if not hmac.compare_digest(str(hello.get("mac", "")), expected):
            return None
        self.client = client
        mac = proof(self._key, "server", self._nonce, client_nonce, client, self._me)
        return encode_json(Kind.AUTH, {"mac": mac})


class ClientHandshake:
    """The connecting side: `respond()` to the server's challenge, then `verify()` its
    proof. Both raise ValueError when the server does not answer as one holding the key
    (or, given `expect`, under another name than that)."""

    def __init__(self, key: bytes, me: str, expect: str | None = None) -> None:
        self._key = key
        self._me = me
        self._expect = expect
        self._nonce = fresh_nonce()
        self._expected = ""
        self.server = ""

    def respond(self, kind: Kind, payload: bytes) -> bytes:
        if kind is not Kind.AUTH:
            raise ValueError(f"expected AUTH, got {kind.name}")
        hello = load_json(payload)
        self.server, server_nonce = str(hello["node"]), str(hello["nonce"])
        if self._expect is not None and self.server != self._expect:
            raise ValueError(f"{self.server!r} is not {self._expect!r}")
        names = (self._me, self.server)
        mac = proof(self._key, "client", server_nonce, self._nonce, *names)
        self._expected = proof(self._key, "server", server_nonce, self._nonce, *names)
        return encode_json(Kind.AUTH, {"node": self._me, "nonce": self._nonce, "mac": mac})

    def verify(self, kind: Kind, payload: bytes) -> None:
        said = str(load_json(payload).get("mac", "")) if kind is Kind.AUTH else ""
        if not self._expected or not hmac.compare_digest(said, self._expected):
            raise ValueError(f"{self.server or 'the peer'} could not prove it holds the secret")
