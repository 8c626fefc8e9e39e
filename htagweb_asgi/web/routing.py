"""Where we are mounted, and which handler serves a path below the mount point (sans-IO).

Every host passes the mount point differently (see shared/research/mounting.md §1): the ASGI
spec puts the prefix in ``root_path`` *and* in ``path``; hypercorn/daphne/granian
``--root-path`` behind a stripping proxy give a ``path`` without it; Channels adds
``path_remaining``; Litestar rewrites ``path`` (adding a trailing slash) and leaves
``root_path`` empty, so only ``raw_path`` tells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import unquote

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import AppOptions
from htagweb_asgi.web.static import bundle_parts


@dataclass(frozen=True)
class MountedApp:
    """An App served at `base` ("" for the host's root page, else "/name")."""

    base: str
    ref: AppRef
    options: AppOptions

    @property
    def identity(self) -> str:
        """Names the App in process keys and runtime directories."""
        return f"{self.ref}@{self.base or '/'}"


def mount_point(scope: Mapping[str, Any]) -> tuple[str, str]:
    """Return ``(prefix, sub)``: the public prefix (no trailing ``/``) and the path below it.

    ``sub == ""`` means the request named the mount point without its trailing slash.
    """
    path: str = scope.get("path") or "/"
    root: str = (scope.get("root_path") or "").rstrip("/")
    if "path_remaining" in scope:
        return _channels(path, scope["path_remaining"])
    if root and (path == root or path.startswith(root + "/")):
        return root, path[len(root) :]
    if root:
        return root, _strip_root_suffix(root, path)
    return _from_raw_path(path, scope.get("raw_path"))


def _channels(path: str, remaining: str) -> tuple[str, str]:
    consumed = path[: len(path) - len(remaining)] if remaining else path
    if remaining:
        return consumed.rstrip("/"), "/" + remaining.lstrip("/")
    return consumed.rstrip("/"), "/" if consumed.endswith("/") else ""


def _strip_root_suffix(root: str, path: str) -> str:
    """`root_path` is not in `path`: the proxy stripped all or part of it.

    Strip the longest trailing run of root's segments that `path` starts with (Starlette <= 0.32
    under an outer root_path); when none matches, `path` is already the sub-path.
    """
    segments = root.split("/")[1:]
    for start in range(len(segments)):
        suffix = "/" + "/".join(segments[start:])
        if path == suffix or path.startswith(suffix + "/"):
            return path[len(suffix) :]
    return path


def _from_raw_path(path: str, raw_path: object) -> tuple[str, str]:
    if not isinstance(raw_path, bytes) or not raw_path:
        return "", path
    raw = unquote(raw_path.decode("latin-1").split("?", 1)[0])
    trimmed_raw, trimmed_path = raw.rstrip("/"), path.rstrip("/")
    if raw == path or not trimmed_raw.endswith(trimmed_path):
        return "", path
    prefix = trimmed_raw[: len(trimmed_raw) - len(trimmed_path)]
    return prefix, trimmed_path + ("/" if raw.endswith("/") else "")


def relative_to_root(sub: str) -> str:
    """Return the relative URL from a page served at `sub` back to the mount point (``./``...).

    Relative URLs in the page keep working behind proxies that strip a prefix unknown to us.
    """
    depth = sub.count("/") - 1
    return "../" * depth if depth > 0 else "./"


# App paths are plain segments; "_" is ours (/_/client.js, /_/htag2.js and the other scripts,
# /_/healthz, <app>/_/session,
# <app>/_/ws, <app>/_/post, <app>/_/sse).
_APP_PATH_RE = re.compile(r"(/[A-Za-z0-9.~-][A-Za-z0-9._~-]*)*")
SCRIPTS_DIR = "/_/"  # the static scripts (web/static.py), alone or a page's bundle: /_/<name>
WS_SUFFIX = "/_/ws"
POST_SUFFIX = "/_/post"
EVENTS_SUFFIX = "/_/sse"
HEALTH_SUFFIX = "/_/healthz"  # under the host's root and each App's mount
READY_SUFFIX = "/_/readyz"
SESSION_SUFFIX = "/_/session"
METRICS_PATH = "/_/metrics"  # under the host's root only: every App's series
_ENDPOINTS = (
    (WS_SUFFIX, "websocket"),
    (POST_SUFFIX, "post"),
    (EVENTS_SUFFIX, "events"),
    (SESSION_SUFFIX, "session"),
)


class RouteKind(Enum):
    REDIRECT = "redirect"
    PAGE = "page"
    CLIENT = "client"
    WEBSOCKET = "websocket"
    POST = "post"
    EVENTS = "events"
    EXTRA = "extra"
    HEALTH = "health"
    SESSION = "session"
    READY = "ready"
    METRICS = "metrics"
    NOT_FOUND = "not found"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    app: MountedApp | None = None
    extra: Any = None
    script: str = ""  # CLIENT: which of web/static.py's scripts


@dataclass
class Router:
    """App pages, their endpoints, and extra routes (exact paths), by sub-path."""

    apps: dict[str, MountedApp] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def normalize(path: str) -> str:
        """Return the App base for a user-given path: "/" → "", "/admin/" → "/admin"."""
        base = "/" + path.strip("/") if path.strip("/") else ""
        dots = {".", ".."} & set(base.split("/"))
        if dots or not _APP_PATH_RE.fullmatch(base):
            raise ValueError(f"bad path {path!r}: use plain segments (letters, digits, . ~ - _)")
        return base

    def match(self, sub: str) -> Route:
        if sub == "":
            return Route(RouteKind.REDIRECT)
        if sub in self.extras:
            return Route(RouteKind.EXTRA, extra=self.extras[sub])
        trimmed = sub.rstrip("/") if sub != "/" else sub  # Litestar appends a slash
        if trimmed.startswith(SCRIPTS_DIR) and bundle_parts(trimmed[len(SCRIPTS_DIR) :]):
            return Route(RouteKind.CLIENT, script=trimmed[len(SCRIPTS_DIR) :])
        if trimmed == METRICS_PATH:
            return Route(RouteKind.METRICS)
        for suffix, kind in ((HEALTH_SUFFIX, RouteKind.HEALTH), (READY_SUFFIX, RouteKind.READY)):
            if trimmed.endswith(suffix):
                base = trimmed[: -len(suffix)]
                if base == "":  # the host's own: whether or not an App is served at its root
                    return Route(kind, self.apps.get(""))
                app = self.apps.get(base)
                return Route(kind, app) if app else Route(RouteKind.NOT_FOUND)
        for suffix, name in _ENDPOINTS:
            if trimmed.endswith(suffix):
                app = self.apps.get(trimmed[: -len(suffix)])
                return Route(RouteKind(name), app) if app else Route(RouteKind.NOT_FOUND)
        app = self.apps.get("" if sub == "/" else trimmed)
        return Route(RouteKind.PAGE, app) if app else Route(RouteKind.NOT_FOUND)
