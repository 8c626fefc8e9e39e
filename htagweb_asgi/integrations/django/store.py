"""A SessionStore that is Django's session engine, so that the App's ``tag.session`` is the
``request.session`` of Django views.

Ids say where a session lives: ``"django:<key>"`` names a session of Django's engine
(``settings.SESSION_ENGINE``: database, cache, file...), any other id a session of the
fallback store (a visitor without a Django session, on our own cookie). Django is imported
inside functions only: the package does not require it.

Django's session API is synchronous and may wait on a database, so the host calls this store
from worker threads (``blocking = True``). Each call closes Django's stale connections before
and after, as Django does around a request: a worker thread never keeps one past
``CONN_MAX_AGE``.

Django saves whole sessions. A save here loads the session, applies the App's changed keys
and saves it; a Django view that loaded the same session before that and saves after it
overwrites the App's keys (and the other way round). The window is one database round trip;
two concurrent Django requests of one session have the same race.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from htagweb_asgi.sessions.store import SessionStore
from htagweb_asgi.sessions.values import SessionValueError, Snapshot, encode

logger = logging.getLogger(__name__)

DJANGO_PREFIX = "django:"


def django_key(session_id: str) -> str | None:
    """The Django session key an id names, or None for a fallback id (ours never hold ':')."""
    return session_id[len(DJANGO_PREFIX) :] if session_id.startswith(DJANGO_PREFIX) else None


class DjangoStore(SessionStore):
    """Django's sessions for ``"django:<key>"`` ids, `fallback` for the others."""

    blocking = True

    def __init__(self, fallback: SessionStore) -> None:
        self.fallback = fallback

    def load(self, session_id: str) -> Snapshot:
        key = django_key(session_id)
        if key is None:
            return self.fallback.load(session_id)
        with _django_db():
            data: Mapping[str, Any] = _engine()(session_key=key).load()  # {} when missing
        return _as_texts(data)

    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        """Apply `changes` to the Django session; `max_age` is Django's to decide
        (``SESSION_COOKIE_AGE``, counted from this save, as after a view's save)."""
        key = django_key(session_id)
        if key is None:
            self.fallback.save(session_id, changes, max_age)
            return
        with _django_db():
            _apply(key, changes)

    def delete(self, session_id: str) -> None:
        key = django_key(session_id)
        if key is None:
            self.fallback.delete(session_id)
            return
        with _django_db():
            _engine()(session_key=key).delete()

    def is_ended(self, session_id: str) -> bool:
        """Fallback ids only: a Django session that ended is gone from Django's engine, and
        a late save never recreates it (see _apply)."""
        return django_key(session_id) is None and self.fallback.is_ended(session_id)

    def rename(self, old_id: str, new_id: str) -> None:
        """Fallback ids only: Django renames its own sessions (``cycle_key()`` at login)."""
        if django_key(old_id) is not None or django_key(new_id) is not None:
            raise NotImplementedError("Django changes its session keys itself (login)")
        self.fallback.rename(old_id, new_id)

    def cleanup(self) -> int:
        """The fallback store's expired sessions (Django's own: ``manage.py clearsessions``)."""
        return self.fallback.cleanup()


def _engine() -> Any:
    """The SessionStore class of ``settings.SESSION_ENGINE``."""
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore


@contextmanager
def _django_db() -> Iterator[None]:
    from django.db import close_old_connections

    close_old_connections()
    try:
        yield
    finally:
        close_old_connections()


def _as_texts(data: Mapping[str, Any]) -> dict[str, str]:
    """The store's form: one JSON text per key (as the App's session encodes them, so that
    an untouched value never looks changed)."""
    texts = {}
    for key, value in data.items():
        try:
            texts[key] = encode(key, value)
        except SessionValueError:  # a custom SESSION_SERIALIZER may hold anything
            logger.warning("the App does not see Django session key %r: not JSON", key)
    return texts


def _apply(key: str, changes: Mapping[str, str | None]) -> None:
    """Load the session, apply `changes`, save; never (re)create a session that ended."""
    from django.contrib.sessions.backends.base import UpdateError

    session = _engine()(session_key=key)
    for name, text in changes.items():  # the first access loads the session
        if text is None:
            session.pop(name, None)
        else:
            session[name] = json.loads(text)
    # A missing session (logout, expiry, a made-up cookie) leaves no key: saving would create
    # a new session under a new key the browser never gets. Drop the App's changes instead.
    if session.session_key is None:
        logger.info("the Django session ended before the App's changes were saved: dropped")
        return
    try:
        session.save()  # database engines: an update only, never an insert
    except UpdateError:
        logger.info("the Django session ended while the App's changes were saved: dropped")
