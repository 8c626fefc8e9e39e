"""``/_/healthz``: the worker answers (liveness), at the mount point and under each App.

Cheap and unauthenticated, for load balancers and Kubernetes probes: it never reaches a
template, never starts a process, never reads the session store (a health check on the
page itself would start a user process per probe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.web.http import send_response

_HEADERS = [(b"cache-control", b"no-store")]


async def serve_healthz(scope: Mapping[str, Any], send: ASGISendCallable) -> None:
    method = scope.get("method")
    if method not in ("GET", "HEAD"):
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"GET, HEAD")])
        return
    await send_response(send, 200, b"ok\n", headers=_HEADERS, head=method == "HEAD")
