"""What every endpoint needs from the host, and the questions each of them asks of a
request: whose session is it, which page instance does it name, which process serves it."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.options import Admission, Limits
from htagweb_asgi.sessions.cookie import build_set_cookie, parse_cookies
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.values import Session
from htagweb_asgi.web.clientaddr import ClientAddresses
from htagweb_asgi.web.connections import OpenWebsockets
from htagweb_asgi.web.drain import Drain
from htagweb_asgi.web.http import PAGE_SECURITY_HEADERS, Headers, header
from htagweb_asgi.web.readiness import Readiness
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.target import Placement, UserTarget
from htagweb_asgi.web.workerstats import WorkerStats

_INSTANCE_RE = re.compile(r"[0-9a-f]{32}")
_PAGE_RE = re.compile(r"[0-9a-f]{16}")
_PUSH_RE = re.compile(r"-1|0|[1-9][0-9]{0,17}")  # a push number, or -1: "render it all"
NODE_COOKIE = "htagweb_node"  # cluster/settings.py names it too


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
    placement: Placement | None = None  # the cluster (cluster/node.py), or None: one machine
    admission: Admission = field(default_factory=Admission)
    clients: ClientAddresses = field(default_factory=ClientAddresses)
    websockets: OpenWebsockets = field(default_factory=OpenWebsockets)

    def page_headers(self) -> Headers:
        headers = list(PAGE_SECURITY_HEADERS)
        if self.frame_ancestors:
            csp = f"frame-ancestors {self.frame_ancestors}".encode("latin-1")
            headers.append((b"content-security-policy", csp))
        return headers

    def target(self, app: MountedApp, scope: Mapping[str, Any], session_id: str) -> UserTarget:
        """The process of (`session_id`, `app`) under the server that got this request."""
        pool = self.pools.pool(app, scope)
        client = self.clients.of(scope)
        return UserTarget.of(
            pool, self.sessions, session_id, app.identity, client, app.base or "/", self.placement
        )

    def node_cookie(self, scope: Mapping[str, Any], node: str | None) -> bytes | None:
        """The node cookie naming the node that owns the page's process, for a balancer's
        affinity (docs/guide/cluster.md); None when the browser has it already."""
        if node is None or parse_cookies(scope.get("headers") or ()).get(NODE_COOKIE) == node:
            return None
        secure = scope.get("scheme") in ("https", "wss")
        return build_set_cookie(
            NODE_COOKIE, node, path="/", secure=secure, max_age=None, same_site="Lax"
        )

    def session_cookie(
        self, scope: Mapping[str, Any], session_id: str, public_prefix: str
    ) -> Headers:
        """The Set-Cookie of a new session id for this response (none under
        SessionMiddleware: it is told, and sets its own)."""
        session = scope.get("session")
        if isinstance(session, Session):
            session.session_id, session.issue_cookie = session_id, True
            return []
        return [(b"set-cookie", self.sessions.set_cookie(session_id, scope, public_prefix))]

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

    async def page_session(self, scope: Mapping[str, Any]) -> tuple[str, bool]:
        """The session for a page load, created when missing or ended (logout, rotation);
        True when we must set the cookie (under SessionMiddleware the middleware sets it)."""
        session = scope.get("session")
        if isinstance(session, Session):
            if session.session_id is None:
                session.session_id, session.issue_cookie = self.sessions.new_id(), True
            return session.session_id, False
        known = self.sessions.session_id(scope)
        if known is not None and not await self.sessions.is_ended(known):
            return known, False
        return self.sessions.new_id(), True


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
