"""Who is asking: the verified session id from the signed cookie, and the cookie to set."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cookies import build_set_cookie, parse_cookies
from .signing import Signer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visitor:
    """A session id we signed; `is_new` when the request had no valid cookie."""

    session_id: str
    is_new: bool


class Identity:
    """Reads and issues the session cookie."""

    def __init__(self, signer: Signer, cookie_name: str, secure: bool | None) -> None:
        self.signer = signer
        self.cookie_name = cookie_name
        self.secure = secure

    def known(self, scope: Mapping[str, Any]) -> Visitor | None:
        """Return the visitor whose valid cookie came with the request, or None."""
        value = parse_cookies(scope.get("headers") or ()).get(self.cookie_name)
        session_id = self.signer.unsign(value)
        if session_id is None:
            if value is not None:
                logger.info("ignored a session cookie with a bad signature or shape")
            return None
        return Visitor(session_id, is_new=False)

    def known_or_new(self, scope: Mapping[str, Any]) -> Visitor:
        """A missing or forged cookie means a new session, never an error."""
        return self.known(scope) or Visitor(self.signer.new_session_id(), is_new=True)

    def set_cookie(self, visitor: Visitor, scope: Mapping[str, Any], prefix: str) -> bytes:
        """Return the Set-Cookie value that stores `visitor` for pages under `prefix`."""
        secure = self.secure if self.secure is not None else scope.get("scheme") in ("https", "wss")
        return build_set_cookie(
            self.cookie_name,
            self.signer.sign(visitor.session_id),
            path=prefix or "/",
            secure=secure,
        )
