"""The probes: ``/_/healthz`` (liveness) and ``/_/readyz`` (readiness), under the host's root
and under each App's mount. Cheap, unauthenticated, never cached.

- healthz: this worker answers. It touches nothing else: no session, no process, no template
  (a balancer may call it every second).
- readyz: this worker can serve: not draining, its runtime directory and session store
  usable, and the App's template running and loaded (started if needed: a template is not a
  user process, and starting it proves that the App imports). The body says what is wrong
  in general terms; the details go to the log, not to whoever probes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.web.http import TEXT, send_response
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.services import Services

logger = logging.getLogger(__name__)

_NO_STORE = [(b"cache-control", b"no-store")]


async def serve_liveness(scope: Mapping[str, Any], send: ASGISendCallable) -> None:
    await _answer(scope, send, 200, "ok")


async def serve_readiness(
    services: Services,
    apps: Iterable[MountedApp],
    scope: Mapping[str, Any],
    send: ASGISendCallable,
) -> None:
    """200 "ready", or 503 with what is wrong (the root's readyz checks every App)."""
    problem = await _problem(services, apps, scope)
    if problem is None:
        await _answer(scope, send, 200, "ready")
    else:
        await _answer(scope, send, 503, f"not ready: {problem}")


async def _problem(
    services: Services, apps: Iterable[MountedApp], scope: Mapping[str, Any]
) -> str | None:
    if services.drain.draining:
        return "draining"
    if await services.readiness.probe():
        return "the server's configuration (see its log)"
    for app in apps:
        try:
            status = await services.pools.pool(app, scope).status()
        except HtagwebError as exc:
            logger.warning("readyz: the App %s is not ready: %s", app.identity, exc)
            return f"the App at {app.base or '/'} cannot start (see the log)"
        if not status.get("loaded", False):
            return f"the App at {app.base or '/'} does not import (see the log)"
    return None


async def _answer(scope: Mapping[str, Any], send: ASGISendCallable, status: int, text: str) -> None:
    if scope["type"] != "http":
        return
    if scope.get("method") not in ("GET", "HEAD"):
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"GET, HEAD")])
        return
    body = (text + "\n").encode()
    head = scope.get("method") == "HEAD"
    await send_response(send, status, body, content_type=TEXT, headers=_NO_STORE, head=head)
