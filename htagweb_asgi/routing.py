"""Which handler serves a sub-path below the mount prefix (sans-IO)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .registry import MountedApp

# App paths are plain segments; "_" is ours (/_/client.js, <app>/_/ws, <app>/_/post).
_APP_PATH_RE = re.compile(r"(/[A-Za-z0-9.~-][A-Za-z0-9._~-]*)*")
CLIENT_PATH = "/_/client.js"
WS_SUFFIX = "/_/ws"
POST_SUFFIX = "/_/post"


class RouteKind(Enum):
    REDIRECT = "redirect"
    PAGE = "page"
    CLIENT = "client"
    WEBSOCKET = "websocket"
    POST = "post"
    EXTRA = "extra"
    NOT_FOUND = "not found"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    app: MountedApp | None = None
    extra: Any = None


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
        if trimmed == CLIENT_PATH:
            return Route(RouteKind.CLIENT)
        for suffix, kind in ((WS_SUFFIX, RouteKind.WEBSOCKET), (POST_SUFFIX, RouteKind.POST)):
            if trimmed.endswith(suffix):
                app = self.apps.get(trimmed[: -len(suffix)])
                return Route(kind, app) if app else Route(RouteKind.NOT_FOUND)
        app = self.apps.get("" if sub == "/" else trimmed)
        return Route(RouteKind.PAGE, app) if app else Route(RouteKind.NOT_FOUND)
