"""Dispatcher: serve ASGI apps under path prefixes beside a main app (pure ASGI, any loop).

For hosts without a mount of their own (plain Django, Quart, any bare ASGI app)::

    application = Dispatcher({"/ui": HtagASGI(App)}, default=get_asgi_application())

The server talks lifespan to the dispatcher only; LifespanFanOut holds that conversation
with every app at once. Each app gets its own conversation, all in parallel, and the ASGI
rule for an app that raises on a lifespan scope ("the server must continue but not send any
lifespan events") holds for each app alone: Django rejects lifespan, and the others still
start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    LifespanShutdownCompleteEvent,
    LifespanShutdownFailedEvent,
    LifespanStartupFailedEvent,
)

from htagweb_asgi.web.http import refuse, send_response

logger = logging.getLogger(__name__)

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Message = dict[str, Any]
LifespanEnd = (
    LifespanStartupFailedEvent | LifespanShutdownCompleteEvent | LifespanShutdownFailedEvent
)

# After the server's shutdown, how long the apps may take to return before they are cancelled.
RETURN_GRACE = 5.0


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

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Any: Starlette types an ASGI app with MutableMapping scopes, asgiref with
        # TypedDicts, and neither accepts the other's; both accept this.
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


class _AppLifespan:
    """One app's side of the conversation: the events we forward, the replies it sends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.started = False
        self.stopped = False  # answered a shutdown: it should return by itself
        self.ended = anyio.Event()
        self._events_in, self._events_out = anyio.create_memory_object_stream[Message](1)
        self._replies_in, self._replies_out = anyio.create_memory_object_stream[Message](1)

    async def run(self, scope: Any) -> None:
        try:
            with self._events_out, self._replies_in:  # closing replies tells ask() it ended
                await self.app(scope, self._events_out.receive, self._replies_in.send)
        except Exception:
            if self.started:
                logger.exception("%r failed during its lifespan", self.app)
            else:  # the ASGI way of saying "no lifespan here" (Django does it)
                logger.debug("%r does not support lifespan", self.app, exc_info=True)
        finally:
            self.ended.set()

    async def ask(self, event_type: str) -> Message | None:
        """Forward an event; return the app's reply, or None if it returned without one."""
        try:
            await self._events_in.send({"type": event_type})
            return await self._replies_out.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None

    def close(self) -> None:
        self._events_in.close()
        self._replies_out.close()


class LifespanFanOut:
    """An ASGI lifespan handler that starts and stops every app of `apps` together.

    Startup completes when every app that supports lifespan has started; if one fails, the
    ones already started are shut down and the server is told why (``lifespan.startup.failed``).
    Shutdown waits for every started app and reports their failures together.
    """

    def __init__(self, apps: Sequence[ASGIApp]) -> None:
        self._apps = list(apps)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        apps = [_AppLifespan(app) for app in self._apps]
        async with anyio.create_task_group() as tasks:
            for app in apps:
                tasks.start_soon(app.run, scope)
            last_word = await self._converse(apps, receive, send)
            with anyio.move_on_after(RETURN_GRACE):
                for app in apps:
                    if app.stopped:
                        await app.ended.wait()
            tasks.cancel_scope.cancel()
        for app in apps:
            app.close()
        # Only now: servers (hypercorn) cancel the lifespan task once they have the answer.
        if last_word is not None:
            await send(last_word)

    async def _converse(
        self, apps: list[_AppLifespan], receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> LifespanEnd | None:
        """Relay startup and shutdown; return the final answer for the server, if any."""
        if (await receive())["type"] != "lifespan.startup":
            return None
        failures = await _phase(apps, "lifespan.startup")
        if failures:
            await _phase([app for app in apps if app.started], "lifespan.shutdown")
            return {"type": "lifespan.startup.failed", "message": "; ".join(failures)}
        await send({"type": "lifespan.startup.complete"})
        if (await receive())["type"] != "lifespan.shutdown":
            return None
        failures = await _phase([app for app in apps if app.started], "lifespan.shutdown")
        if failures:
            return {"type": "lifespan.shutdown.failed", "message": "; ".join(failures)}
        return {"type": "lifespan.shutdown.complete"}


async def _phase(apps: list[_AppLifespan], event_type: str) -> list[str]:
    """Send `event_type` to every app at once; return the messages of those that failed."""
    failures: list[str] = []

    async def one(app: _AppLifespan) -> None:
        reply = await app.ask(event_type)
        if reply is None:
            return
        if event_type == "lifespan.shutdown":
            app.stopped = True
        if reply.get("type") == event_type + ".failed":
            failures.append(str(reply.get("message") or f"{app.app!r} failed"))
        elif reply.get("type") == "lifespan.startup.complete":
            app.started = True

    async with anyio.create_task_group() as tasks:
        for app in apps:
            tasks.start_soon(one, app)
    return failures
