"""The host the fuzz serves (``tests.support.apps.fuzz_host:main``): every kind of App.

The counter over a websocket at /, over HTTP POST at /http, with tracebacks at /debug, with
parano at /parano; an App without init arguments at /other; a route declared as frameworks
do (GET and HEAD). A POST may be larger than a websocket message (the limits differ on
purpose).
"""

from __future__ import annotations

import os
from typing import Any

from htagweb_asgi import HtagASGI
from tests.support.apps.hosts import COUNTER

MAX_FRAME = 64 * 1024
MAX_BODY = 96 * 1024


async def plain_route(scope: Any, receive: Any, send: Any) -> None:
    """A framework's route as it is usually declared: GET and HEAD only (any other method
    gets a 405; a 200 to CONNECT would make the server switch protocols, h11 then refusing
    the body), no websocket."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.close", "code": 1008})
    elif scope.get("method") in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})
    else:
        headers = [(b"allow", b"GET, HEAD")]
        await send({"type": "http.response.start", "status": 405, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def build() -> HtagASGI:
    host = HtagASGI(
        COUNTER,
        timeout_interaction=5,
        runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"),
        max_frame_size=MAX_FRAME,
        max_body_size=MAX_BODY,
    )
    host.add_app("/http", COUNTER, http_only=True)
    host.add_app("/debug", COUNTER, debug=True)
    host.add_app("/parano", COUNTER, parano=True)
    host.add_app("/other", "tests.support.apps.other:Other")
    host.add_route("/hello.txt", plain_route)
    return host


main = build()
