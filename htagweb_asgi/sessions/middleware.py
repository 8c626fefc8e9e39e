"""SessionMiddleware: ``scope["session"]`` for the framework, in the store the App uses.

Pure ASGI (no framework import). It puts a dict-like Session on ``scope["session"]``, which
is what FastAPI/Starlette's ``request.session`` and authlib's Starlette OAuth client read
and write, and saves what changed, key by key, when the response starts. An HtagASGI
mounted inside (with the same Sessions) uses the same session id, so ``tag.session`` in the
App and ``request.session`` in a route are one session.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGI3Application

from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.values import Session, SessionValueError, diff

logger = logging.getLogger(__name__)


class SessionMiddleware:
    """``app.add_middleware(SessionMiddleware, sessions=sessions)`` or
    ``SessionMiddleware(app, sessions=sessions)``. The cookie's Path is "/" unless
    ``Sessions(path=...)`` says otherwise."""

    def __init__(self, app: ASGI3Application | Any, sessions: Sessions | None = None) -> None:
        self.app = app
        self.sessions = sessions or Sessions()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Any: Starlette types an ASGI app with MutableMapping scopes, asgiref with
        # TypedDicts, and neither accepts the other's; both accept this.
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session_id = self.sessions.session_id(scope)
        snapshot = await self.sessions.load(session_id) if session_id else {}
        if session_id and not snapshot and await self.sessions.is_ended(session_id):
            session_id = None  # logged out or rotated: a write would be dropped, start anew
        session = Session(session_id, snapshot)
        scope["session"] = session
        if scope["type"] == "websocket":  # no response to carry a cookie: only store writes
            try:
                await self.app(scope, receive, send)
            finally:
                await self._commit(session, scope, None)
            return

        async def send_with_session(message: Any) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._commit(session, scope, message)
                if cookie is not None:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", ()), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _commit(
        self, session: Session, scope: Mapping[str, Any], start: Mapping[str, Any] | None
    ) -> bytes | None:
        """Save what changed; return the Set-Cookie to add (None: none needed)."""
        sessions = self.sessions
        old_id = session.session_id
        if session.ending:
            if old_id is not None:
                await sessions.end(old_id)
            session.session_id = None
            return sessions.clear_cookie(scope, "/") if old_id is not None else None
        changes = self._changes(session)
        if session.rotating:
            new_id = sessions.new_id()
            await sessions.rotate(old_id, new_id)
            session.session_id, session.issue_cookie, session.rotating = new_id, True, False
        elif session.session_id is None and changes:
            session.session_id, session.issue_cookie = sessions.new_id(), True
        if session.session_id is not None:
            await sessions.save(session.session_id, changes)
        if session.issue_cookie and session.session_id is not None and start is not None:
            session.issue_cookie = False
            return sessions.set_cookie(session.session_id, scope, "/")
        return None

    def _changes(self, session: Session) -> dict[str, str | None]:
        if not session.accessed:
            return {}
        try:
            return diff(session.loaded, session, self.sessions.max_size)
        except SessionValueError as exc:  # a route stored something JSON cannot carry
            logger.error("session not saved: %s", exc)
            raise
