"""Signed session ids and the keys derived from them (sans-IO).

The cookie carries ``<id>.<signature>``: a random 256-bit id and its HMAC-SHA256, both base64url.
Nothing downstream ever sees the cookie text: process keys are HMACs of the *verified* id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_ID_BYTES = 32
_B64_LEN = 43  # len(base64url(32 bytes)) without padding
_COOKIE_RE = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs and verifies session ids with one secret key."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key must be at least 16 bytes long")
        self._session_key = hmac.new(secret, b"htagweb-asgi session", hashlib.sha256).digest()
        self._process_key = hmac.new(secret, b"htagweb-asgi process", hashlib.sha256).digest()

    def new_session_id(self) -> str:
        """Return a fresh random session id (not yet signed)."""
        return _b64(secrets.token_bytes(_ID_BYTES))

    def sign(self, session_id: str) -> str:
        """Return the cookie value for `session_id`."""
        return f"{session_id}.{self._signature(session_id)}"

    def unsign(self, cookie_value: str | None) -> str | None:
        """Return the session id if `cookie_value` carries a valid signature, else None.

        The shape is checked before any HMAC so that oversized or odd values cost nothing, and
        the comparison is constant-time so the signature cannot be guessed byte by byte.
        """
        if not cookie_value or len(cookie_value) != 2 * _B64_LEN + 1:
            return None
        if not _COOKIE_RE.fullmatch(cookie_value):
            return None
        session_id, _, signature = cookie_value.partition(".")
        if hmac.compare_digest(signature, self._signature(session_id)):
            return session_id
        return None

    def process_key(self, session_id: str, app_id: str) -> str:
        """Return the name of the (session, app) process: 32 hex chars, safe for a file name."""
        message = f"{session_id}\0{app_id}".encode()
        return hmac.new(self._process_key, message, hashlib.sha256).hexdigest()[:32]

    def _signature(self, session_id: str) -> str:
        return _b64(
            hmac.new(self._session_key, session_id.encode("ascii"), hashlib.sha256).digest()
        )
