"""What every endpoint needs from the host, and the questions each of them asks of a
request: whose session is it, which page instance does it name, which process serves it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from htagweb_asgi.options import Limits
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.values import Session
from htagweb_asgi.web.http import PAGE_SECURITY_HEADERS, Headers, header
from htagweb_asgi.web.readiness import Readiness
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.target import UserTarget

_INSTANCE_RE = re.compile(r"[0-9a-f]{32}")
_PAGE_RE = re.compile(r"[0-9a-f]{16}")
_PUSH_RE = re.compile(r"-1|0|[1-9][0-9]{0,17}")  # a push number, or -1: "render it all"


@dataclass(frozen=True)
class Services:
    """What every endpoint needs from the host."""

    sessions: Sessions
    limits: Limits
    pools: PoolRegistry
    readiness: Readiness
    public_prefix: str | None
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
    return query_value(scope, "i", _INSTANCE_RE)


@dataclass(frozen=True)
class PagePosition:
    """Where a page that numbers what it gets stands: its token (``t=``) and the last push
    it has (``p=``, or a Server-Sent Events client's ``Last-Event-ID``). A bare client names
    neither: it gets pushes from now on, unnumbered."""

    page: str | None = None
    resume: int | None = None

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> PagePosition:
        resume = query_value(scope, "p", _PUSH_RE)
        last_event = header(scope, b"last-event-id")
        if last_event is not None and _PUSH_RE.fullmatch(last_event.decode("latin-1")):
            resume = last_event.decode("latin-1")  # what an EventSource got last: fresher
        return cls(query_value(scope, "t", _PAGE_RE), int(resume) if resume else None)

    def attach_fields(self) -> dict[str, Any]:
        """What ATTACH says of the page (nothing for a bare client)."""
        if self.resume is None:
            return {}
        return {"resume": self.resume, "page": self.page}


def query_value(
    scope: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None
) -> str | None:
    """The first value of `name` in the query string, when it matches `pattern`."""
    query: bytes = scope.get("query_string", b"")
    values = parse_qs(query.decode("latin-1")).get(name)
    if not values or (pattern is not None and not pattern.fullmatch(values[0])):
        return None
    return values[0]
