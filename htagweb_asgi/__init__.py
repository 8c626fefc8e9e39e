"""htagweb-asgi: a production web host for htag Apps, one OS process per user, pure ASGI3.

The package has two halves that never import each other: ``web/`` runs in the server's
workers (ASGI, anyio, the relays), ``proc/`` in the App's template and user processes (htag).
``protocol/`` is what they agree on, ``sessions/`` and ``parano/`` what they share.

The names below are imported on first use: the App's template and user processes import
the process modules only, and stay smaller (faster to fork, less memory per user) without
the host's web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from htagweb_asgi.appref import AppImportError
    from htagweb_asgi.integrations.django.sessions import DjangoSessions
    from htagweb_asgi.options import Admission, AppOptions, Limits, TemplateSettings
    from htagweb_asgi.parano.primitives import ParanoUnavailable
    from htagweb_asgi.sessions.core import Sessions
    from htagweb_asgi.sessions.middleware import SessionMiddleware
    from htagweb_asgi.sessions.store import MemoryStore, SessionStore, SQLiteStore
    from htagweb_asgi.sessions.values import Session, SessionValueError
    from htagweb_asgi.web.dispatch import Dispatcher
    from htagweb_asgi.web.host import HtagASGI

__all__ = [
    "Admission",
    "AppImportError",
    "AppOptions",
    "Dispatcher",
    "DjangoSessions",
    "HtagASGI",
    "Limits",
    "MemoryStore",
    "ParanoUnavailable",
    "SQLiteStore",
    "Session",
    "SessionMiddleware",
    "SessionStore",
    "SessionValueError",
    "Sessions",
    "TemplateSettings",
]
__version__ = "0.1.0"

_HOMES = {
    "AppImportError": "appref",
    "HtagASGI": "web.host",
    "Dispatcher": "web.dispatch",
    "DjangoSessions": "integrations.django.sessions",
    "Admission": "options",
    "AppOptions": "options",
    "Limits": "options",
    "TemplateSettings": "options",
    "SessionMiddleware": "sessions.middleware",
    "Session": "sessions.values",
    "SessionValueError": "sessions.values",
    "Sessions": "sessions.core",
    "MemoryStore": "sessions.store",
    "SQLiteStore": "sessions.store",
    "SessionStore": "sessions.store",
    "ParanoUnavailable": "parano.primitives",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'htagweb_asgi' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
