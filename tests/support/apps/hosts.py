"""The ASGI apps the end-to-end tests serve with real servers (``tests.support.apps.hosts:<name>``).

Servers inherit HTAGWEB_TEST_RUNTIME from the test run, so each run keeps its processes and
files in its own directory and can check that nothing is left behind.
"""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI

RUNTIME = os.environ.get("HTAGWEB_TEST_RUNTIME")
COUNTER = "tests.support.apps.counter:App"


async def hello(scope, receive, send):  # type: ignore[no-untyped-def]
    """A plain extra route, as htagweb's add_route served."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def worker_pid(scope, receive, send):  # type: ignore[no-untyped-def]
    """The pid of the worker process that answers (on a kept-alive connection: the worker
    that served the connection's earlier requests)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(os.getpid()).encode()})


def build() -> HtagASGI:
    host = HtagASGI(
        COUNTER,
        timeout_interaction=3,
        runtime_dir=RUNTIME,
        max_frame_size=64 * 1024,
        max_body_size=64 * 1024,
    )
    host.add_app("/http", COUNTER, http_only=True)
    host.add_app("/idle", COUNTER, timeout_inactivity=1.5)
    host.add_app("/debug", COUNTER, debug=True)
    host.add_app("/other", "tests.support.apps.other:Other")
    host.add_app("/broken", "tests.support.apps.broken:App")
    host.add_route("/hello.txt", hello)
    host.add_route("/worker-pid.txt", worker_pid)
    return host


main = build()
