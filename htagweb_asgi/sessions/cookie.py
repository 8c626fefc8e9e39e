"""The session cookie: parsing and building it, signing the id it carries, and the secret
key that signs it (sans-IO, but for reading or creating the key file once).

The cookie carries ``<id>.<signature>``: a random 256-bit id and its HMAC-SHA256, both base64url.
Nothing downstream ever sees the cookie text: process keys are HMACs of the *verified* id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable

logger = logging.getLogger(__name__)

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


def parse_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Return the request's cookies, tolerating whatever else the host site set.

    All `cookie` headers are joined (HTTP/2 may send several). We split on ``;`` and the first
    ``=`` ourselves instead of using ``http.cookies.SimpleCookie``, because SimpleCookie stops at
    the first cookie it dislikes and would hide ours behind a neighbour's odd value.
    The first occurrence of a name wins, as browsers send the most specific path first.
    """
    cookies: dict[str, str] = {}
    for name, value in headers:
        if name != b"cookie":
            continue
        for chunk in value.decode("latin-1").split(";"):
            key, sep, val = chunk.partition("=")
            key = key.strip()
            if sep and key and key not in cookies:
                cookies[key] = val.strip().strip('"')
    return cookies


def build_set_cookie(
    name: str,
    value: str,
    *,
    path: str,
    secure: bool,
    max_age: int | None = None,
    same_site: str = "Lax",
) -> bytes:
    """Return a Set-Cookie header value; `value` must be ASCII-safe (it is signed base64url)."""
    parts = [f"{name}={value}", f"Path={path or '/'}", "HttpOnly", f"SameSite={same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


SECRET_ENV_VAR = "HTAGWEB_SECRET_KEY"
KEY_FILE = "secret_key"


def resolve_secret(given: str | bytes | None, directory: str) -> bytes:
    """Return the key: `given`, else $HTAGWEB_SECRET_KEY, else one generated once in `directory`.

    Every worker and every restart must agree on the key, or cookies signed by one worker are
    refused by the next; a generated key is therefore written (0600) where all of them find it.
    """
    if given:
        return given.encode() if isinstance(given, str) else given
    from_env = os.environ.get(SECRET_ENV_VAR)
    if from_env:
        return from_env.encode()
    path = os.path.join(directory, KEY_FILE)
    key = _read_or_create(path)
    logger.warning(
        "no secret_key given and %s is unset: using the generated key in %s "
        "(set one in production so sessions survive a reboot and all hosts agree)",
        SECRET_ENV_VAR,
        path,
    )
    return key


def _read_or_create(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read().strip()
    except FileNotFoundError:
        pass
    # Publish atomically: write a private temporary file, then link it into place; when another
    # worker won the race, link fails and we read theirs.
    temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    with open(path, "rb") as file:
        return file.read().strip()
