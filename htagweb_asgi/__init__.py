"""htagweb-asgi: a production web host for htag v1 Apps, one OS process per user, pure ASGI3.

The names below are imported on first use: the App's template and user processes import
this package's process modules only, and stay smaller (faster to fork, less memory per user)
without the host's web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .appref import AppImportError
    from .crypto import ParanoUnavailable
    from .dispatch import Dispatcher
    from .djangosession import DjangoSessions
    from .host import HtagASGI
    from .middleware import SessionMiddleware
    from .options import AppOptions, Limits, TemplateSettings
    from .session import Session, SessionValueError
    from .sessions import Sessions
    from .sessionstore import MemoryStore, SessionStore, SQLiteStore

__all__ = [
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
    "HtagASGI": "host",
    "Dispatcher": "dispatch",
    "DjangoSessions": "djangosession",
    "AppOptions": "options",
    "Limits": "options",
    "TemplateSettings": "options",
    "SessionMiddleware": "middleware",
    "Session": "session",
    "SessionValueError": "session",
    "Sessions": "sessions",
    "MemoryStore": "sessionstore",
    "SQLiteStore": "sessionstore",
    "SessionStore": "sessionstore",
    "ParanoUnavailable": "crypto",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'htagweb_asgi' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
