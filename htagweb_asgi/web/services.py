"""What every endpoint needs from the host, and the questions each of them asks of a
request: whose session is it, which page instance does it name, which process serves it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.options import Limits
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.values import Session
from htagweb_asgi.web.drain import Drain
from htagweb_asgi.web.http import PAGE_SECURITY_HEADERS, Headers
from htagweb_asgi.web.readiness import Readiness
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.target import UserTarget
from htagweb_asgi.web.workerstats import WorkerStats

_INSTANCE_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Services:
    """What every endpoint needs from the host."""

    sessions: Sessions
    limits: Limits
    pools: PoolRegistry
    readiness: Readiness
    public_prefix: str | None
    drain: Drain
    allowed_origins: Collection[str] = ()
    frame_ancestors: str | None = "'self'"

    def page_headers(self) -> Headers:
        headers = list(PAGE_SECURITY_HEADERS)
        if self.frame_ancestors:
            csp = f"frame-ancestors {self.frame_ancestors}".encode("latin-1")
            headers.append((b"content-security-policy", csp))
        return headers

    def target(self, app: MountedApp, scope: Mapping[str, Any], session_id: str) -> UserTarget:
        """The process of (`session_id`, `app`) under the server that got this request."""
        pool = self.pools.pool(app, scope)
        return UserTarget.of(pool, self.sessions, session_id, app.identity)

    def stats(self, app: MountedApp, scope: Mapping[str, Any]) -> WorkerStats:
        """This worker's counters for `app` (a throwaway set where the App has no pool: a
        runtime directory that cannot be used is reported by readiness, not here)."""
        try:
            return self.pools.pool(app, scope).stats
        except HtagwebError:
            return WorkerStats()

    def known_session(self, scope: Mapping[str, Any]) -> str | None:
        """The session of the request: SessionMiddleware's, else our own cookie's."""
        session = scope.get("session")
        if isinstance(session, Session) and session.session_id is not None:
            return session.session_id
        return self.sessions.session_id(scope)

    def page_session(self, scope: Mapping[str, Any]) -> tuple[str, bool]:
        """The session for a page load, created when missing; True when we must set the
        cookie (under SessionMiddleware the middleware sets it)."""
        session = scope.get("session")
        if isinstance(session, Session):
            if session.session_id is None:
                session.session_id, session.issue_cookie = self.sessions.new_id(), True
            return session.session_id, False
        known = self.sessions.session_id(scope)
        return (known, False) if known is not None else (self.sessions.new_id(), True)


def page_instance(scope: Mapping[str, Any]) -> str | None:
    """The App instance a page names in ``?i=`` (only ever compared, never used as a path)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("i")
    return values[0] if values and _INSTANCE_RE.fullmatch(values[0]) else None
