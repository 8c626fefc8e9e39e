"""The user process's side of ``parano``: what a host connection may send, and its keys.

A websocket connection or an event stream holds one session for its whole life: its first
message must be a HELLO (answered with a WELCOME), every later one a SEALED message of that
session, counters strictly in sequence. HTTP interactions come one per connection, so the
process keeps the sessions of the pages that POST in a small table by id: a page's HELLO
creates one, its later POSTs name it (counters only increasing: a lost exchange leaves a gap,
and a resent interaction is sealed again under a higher one).

Every refusal is a :class:`~htagweb_asgi.protocol.codes.Rejected` with
``Close.CHANNEL_BROKEN``, which the host turns into a close (websocket)
or a 400 (HTTP). A websocket link that refused a message refuses everything after it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NoReturn

from htagweb_asgi.parano import envelope
from htagweb_asgi.parano.agreement import ChannelError, SecureSession, accept
from htagweb_asgi.protocol.codes import Close, Rejected

MAX_HTTP_SESSIONS = 32  # per user process: pages (tabs, reloads) of one user's App that POST


class HttpSessions:
    """The sessions of the pages that POST; beyond `limit`, the least recently used is dropped."""

    def __init__(self, limit: int = MAX_HTTP_SESSIONS) -> None:
        self._limit = limit
        self._sessions: OrderedDict[bytes, SecureSession] = OrderedDict()

    def add(self, session: SecureSession) -> None:
        self._sessions[session.session_id] = session
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)

    def get(self, session_id: bytes) -> SecureSession | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session


class ParanoLink:
    """The parano state of one host connection (made at ATTACH when the App is parano)."""

    def __init__(self, http_sessions: HttpSessions, *, websocket: bool) -> None:
        self._http_sessions = http_sessions
        self._websocket = websocket
        self._session: SecureSession | None = None  # websocket: its own; HTTP: the last used
        self._broken = False

    @property
    def can_push(self) -> bool:
        """Whether pushes can go out on this connection (never before its key agreement)."""
        return self._websocket and self._session is not None and not self._broken

    @staticmethod
    def is_handshake(message: bytes) -> bool:
        return message[:1] == bytes((envelope.HELLO,))

    def handshake(self, hello: bytes) -> bytes:
        """Answer a HELLO: a new session; return the WELCOME to send back."""
        self._check_usable()
        if self._websocket and self._session is not None:
            self._fail("a second key agreement on one connection")
        try:
            session, welcome = accept(hello, strict=self._websocket)
        except ChannelError as exc:
            self._fail(str(exc))
        if self._websocket:
            self._session = session
        else:
            self._http_sessions.add(session)
        return welcome

    def open(self, message: bytes) -> bytes:
        """The plaintext interaction in a SEALED `message`."""
        self._check_usable()
        session = self._session if self._websocket else self._find(message)
        if session is None:
            self._fail("an interaction before the key agreement")
        try:
            plaintext = session.open(message)
        except ChannelError as exc:
            self._fail(str(exc))
        self._session = session
        return plaintext

    def seal(self, plaintext: bytes) -> bytes:
        """Seal a reply or a push for the page of this connection's session."""
        if self._session is None:  # a bug of ours, never plaintext on the wire
            raise RuntimeError("sealing without a key agreement")
        return self._session.seal(plaintext)

    def _find(self, message: bytes) -> SecureSession | None:
        try:
            session_id = envelope.parse_sealed(message)[0]
        except envelope.EnvelopeError as exc:
            self._fail(str(exc))
        session = self._http_sessions.get(session_id)
        if session is None:
            self._fail("unknown session (the page must agree on keys again)")
        return session

    def _check_usable(self) -> None:
        if self._broken:
            raise Rejected(Close.CHANNEL_BROKEN, "the encrypted channel failed earlier")

    def _fail(self, reason: str) -> NoReturn:
        self._broken = self._websocket  # an HTTP session stays: one bad POST is just refused
        raise Rejected(Close.CHANNEL_BROKEN, f"encrypted channel: {reason}")
