"""The hosts the parano tests serve with real servers (``tests.support.apps.parano_hosts:main``)."""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI
from tests.support.apps.hosts import COUNTER, hello

RUNTIME = os.environ.get("HTAGWEB_TEST_RUNTIME")


def build() -> HtagASGI:
    """The counter App with parano over a websocket at /, over HTTP at /http, over SSE and POST
    at /sse, and in clear at /plain (parano is an App option: one host serves both kinds)."""
    host = HtagASGI(
        COUNTER,
        parano=True,
        timeout_interaction=3,
        runtime_dir=RUNTIME,
        max_frame_size=64 * 1024,
        max_body_size=64 * 1024,
    )
    host.add_app("/http", COUNTER, http_only=True)
    host.add_app("/sse", COUNTER, transport="sse")
    host.add_app("/plain", COUNTER, parano=False)
    host.add_route("/hello.txt", hello)
    return host


main = build()
