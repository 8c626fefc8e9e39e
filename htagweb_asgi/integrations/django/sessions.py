"""DjangoSessions: the htag App's ``tag.session`` is the Django session of the browser.

    sessions = DjangoSessions()                      # in a module both files below import
    ui = HtagASGI(App, sessions=sessions)            # asgi.py (plain Django or Channels)
    sessions.connect_auth_signals()                  # AppConfig.ready()

Which session a request has: Django's session cookie (``SESSION_COOKIE_NAME``) when it holds
a key of Django's shape, else our own signed cookie (visitors without a Django session, kept
in the fallback store). Django is imported inside functions only: the package does not
require it, and nothing here runs before the first request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from htagweb_asgi.integrations.django.store import DJANGO_PREFIX, DjangoStore
from htagweb_asgi.sessions.cookie import Signer, parse_cookies
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import SessionStore

logger = logging.getLogger(__name__)


class DjangoSessions(Sessions):
    """Sessions shared with Django's ``SessionMiddleware`` (and with Channels).

    Takes the options of :class:`Sessions`, which then apply to the fallback session of
    visitors without a Django session: `store` is where those live (default SQLite in the
    state directory), the cookie's `path` defaults to "/" so that Django's login and logout
    views see it too, and `secret_key` defaults to Django's ``SECRET_KEY``.

    Raises ``ValueError`` at the first request if ``SESSION_ENGINE`` keeps sessions in the
    cookie (``signed_cookies``): the App, on a websocket, could never send the browser a
    changed cookie.
    """

    # Django's own keys: 32 of [a-z0-9]. Only a value of this shape names a Django session;
    # it is used as the key of Django's engine (as Django itself would) and, for processes,
    # only through an HMAC.
    key_pattern = re.compile(r"[a-z0-9]{32}")

    def __init__(self, *, path: str | None = "/", **options: Any) -> None:
        super().__init__(path=path, **options)
        self._django_store: DjangoStore | None = None
        self._django_cookie: str | None = None

    @property
    def signer(self) -> Signer:
        if self._signer is None and self._secret_key is None:
            # every worker and server of the project already shares this secret
            self._secret_key = _settings().SECRET_KEY
        return super().signer

    @property
    def store(self) -> SessionStore:
        if self._django_store is None:
            self._django_store = DjangoStore(fallback=super().store)
        return self._django_store

    @property
    def django_cookie_name(self) -> str:
        if self._django_cookie is None:
            settings = _settings()
            if settings.SESSION_ENGINE.endswith("signed_cookies"):
                raise ValueError(
                    "DjangoSessions needs server-side sessions: the App cannot change a "
                    "session kept in the browser's cookie (SESSION_ENGINE = signed_cookies)"
                )
            self._django_cookie = str(settings.SESSION_COOKIE_NAME)
        return self._django_cookie

    def django_key(self, value: str | None) -> str | None:
        """`value` if it has the shape of a Django session key, else None."""
        return value if value is not None and self.key_pattern.fullmatch(value) else None

    def session_id(self, scope: Mapping[str, Any]) -> str | None:
        """``"django:<key>"`` from Django's cookie, else the verified id of our own cookie,
        else None. Whether the Django session exists is not checked here (that would cost a
        database round trip per request): a made-up or ended key gives an empty session in
        which the App's writes are dropped."""
        value = parse_cookies(scope.get("headers") or ()).get(self.django_cookie_name)
        key = self.django_key(value)
        if key is not None:
            return DJANGO_PREFIX + key
        if value is not None:
            logger.info("ignored a Django session cookie of an unexpected shape")
        return super().session_id(scope)

    # -- login and logout in Django end the App's processes of the session that ends --------
    def connect_auth_signals(self) -> None:
        """At Django login and logout, end this browser's htag processes of the session that
        ends (their pages reload under the new one). Call once at startup, e.g. in an
        ``AppConfig.ready()``; calling again changes nothing."""
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        user_logged_in.connect(self._logged_in, weak=False, dispatch_uid=self._uid("in"))
        user_logged_out.connect(self._logged_out, weak=False, dispatch_uid=self._uid("out"))

    def disconnect_auth_signals(self) -> None:
        """Undo :meth:`connect_auth_signals` (tests)."""
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        user_logged_in.disconnect(dispatch_uid=self._uid("in"))
        user_logged_out.disconnect(dispatch_uid=self._uid("out"))

    def _uid(self, which: str) -> str:
        return f"htagweb_asgi.DjangoSessions.{id(self)}.{which}"

    def _logged_in(self, sender: object, request: Any = None, **_: object) -> None:
        if request is not None:  # login() has cycled the key: the cookie names the old one
            self.end_browser_processes(request)

    def _logged_out(self, sender: object, request: Any = None, **_: object) -> None:
        if request is not None:  # sent before the flush: the session still has its key
            self.end_browser_processes(request, [request.session.session_key])

    def end_browser_processes(self, request: Any, django_keys: Iterable[str | None] = ()) -> int:
        """End (blocking) the htag processes of the sessions a Django request's browser has:
        its Django cookie's, the given Django keys', and our fallback cookie's."""
        cookies: Mapping[str, str] = request.COOKIES
        keys = {self.django_key(k) for k in (cookies.get(self.django_cookie_name), *django_keys)}
        ids = {DJANGO_PREFIX + key for key in keys if key is not None}
        ours = self.signer.unsign(cookies.get(self.cookie_name))
        if ours is not None:
            ids.add(ours)
        return self.end_processes_blocking(ids)


def _settings() -> Any:
    from django.conf import settings

    return settings
