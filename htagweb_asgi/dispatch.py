"""Dispatcher: serve ASGI apps under path prefixes beside a main app (pure ASGI, any loop).

For hosts without a mount of their own (plain Django, Quart, any bare ASGI app)::

    application = Dispatcher({"/ui": HtagASGI(App)}, default=get_asgi_application())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope

from .httpio import send_response
from .lifespans import ASGIApp, LifespanFanOut
from .websocket import refuse


class Dispatcher:
    """Route each request to the app mounted at the longest matching prefix, else to `default`.

    A mounted app gets the request with ``root_path`` extended by its prefix and ``path``
    unchanged (the ASGI spec's convention, which HtagASGI, Starlette and Django follow), so it
    knows where it is mounted. Prefixes match whole segments (``/uix`` is not below ``/ui``);
    ``/ui`` itself goes to the app mounted at ``/ui``. Other requests reach `default`
    unchanged (without one: 404, or a refused websocket).

    Lifespan events reach every app, in parallel; an app that rejects lifespan (Django raises)
    is left out, as an ASGI server would do, and the others still start and stop.

    Raises ValueError for an empty or bad prefix, or two prefixes that are the same.
    """

    def __init__(self, mounts: Mapping[str, ASGIApp], default: ASGIApp | None = None) -> None:
        prefixes = [(_normalize(prefix), app) for prefix, app in mounts.items()]
        if not prefixes:
            raise ValueError("Dispatcher needs at least one mounted app")
        if len({prefix for prefix, _ in prefixes}) != len(prefixes):
            raise ValueError(f"the same prefix is given twice in {list(mounts)!r}")
        self._mounts = sorted(prefixes, key=lambda mount: len(mount[0]), reverse=True)
        self._default = default
        apps = [app for _, app in prefixes] + ([default] if default is not None else [])
        unique = list({id(app): app for app in apps}.values())
        self._lifespan = LifespanFanOut(unique)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket"):
            found = self._match(scope)
            if found is not None:
                root_path, app = found
                await app(dict(scope, root_path=root_path), receive, send)
                return
        if self._default is not None:
            await self._default(scope, receive, send)
        elif scope["type"] == "http":
            await send_response(send, 404, b"not found")
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await refuse(scope, send, 404, "no websocket here")

    def _match(self, scope: Mapping[str, Any]) -> tuple[str, ASGIApp] | None:
        """Return the root_path and app for a request below a mounted prefix, or None."""
        path: str = scope.get("path") or "/"
        root: str = (scope.get("root_path") or "").rstrip("/")
        if root and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]  # the ASGI spec: path includes root_path
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return root + prefix, app
        return None


def _normalize(prefix: str) -> str:
    """Return `prefix` without its trailing slash; raise ValueError if it is not a sub-path."""
    trimmed = prefix.rstrip("/")
    segments = trimmed.split("/")[1:]
    if not trimmed.startswith("/") or any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"bad prefix {prefix!r}: give a path such as '/ui' (not '/' or '')")
    return trimmed
