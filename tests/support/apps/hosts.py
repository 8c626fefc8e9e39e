"""The ASGI apps the end-to-end tests serve with real servers (``tests.support.apps.hosts:<name>``).

Servers inherit HTAGWEB_TEST_RUNTIME from the test run, so each run keeps its processes and
files in its own directory and can check that nothing is left behind.
"""

from __future__ import annotations

import os

from htagweb_asgi import Admission, HtagASGI
from tests.support.htagversion import app_ref

RUNTIME = os.environ.get("HTAGWEB_TEST_RUNTIME")
COUNTER = app_ref("counter:App")


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
        # Every test visits from 127.0.0.1, dozens of new sessions a minute: the per-address
        # limits are tested as they ship on admission_defaults below, not here.
        admission=Admission.unlimited(),
    )
    host.add_app("/http", COUNTER, http_only=True)
    host.add_app("/ws", COUNTER, transport="websocket")
    host.add_app("/sse", COUNTER, transport="sse")
    host.add_app("/idle", COUNTER, timeout_inactivity=1.5)
    host.add_app("/debug", COUNTER, debug=True)
    host.add_app("/other", app_ref("other:Other"))
    host.add_app("/broken", "tests.support.apps.broken:App")
    host.add_route("/hello.txt", hello)
    host.add_route("/worker-pid.txt", worker_pid)
    return host


main = build()

# A POST may be larger than a websocket message: the user process must take both.
bodies = HtagASGI(
    COUNTER,
    http_only=True,
    runtime_dir=RUNTIME,
    max_frame_size=64 * 1024,
    max_body_size=256 * 1024,
)
bodies.add_route("/hello.txt", hello)

# Where a newcomer's App keeps its sockets: the default runtime directory (from $TMPDIR).
default_runtime = HtagASGI(COUNTER)
default_runtime.add_route("/hello.txt", hello)


async def without_websockets(scope, receive, send):  # type: ignore[no-untyped-def]
    """main behind a server that has no websocket library: every handshake is refused."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1000})  # the server answers 403
        return
    await main(scope, receive, send)


# Admission control exactly as shipped (tests/e2e/test_admission.py, the flood test).
admission_defaults = HtagASGI(COUNTER, runtime_dir=RUNTIME)
admission_defaults.add_app("/http", COUNTER, http_only=True)
admission_defaults.add_route("/hello.txt", hello)

# Operations: probes, metrics (loopback 127.0.0.1 only: 127.0.0.2 stands for another
# machine), and an App with a memory limit.
metered = HtagASGI(COUNTER, runtime_dir=RUNTIME, metrics=True, metrics_allow=["127.0.0.1/32"])
metered.add_app("/hog", "tests.support.apps.hog:App", memory_limit="256M")
metered.add_route("/hello.txt", hello)
