"""The host the fuzz serves (``tests.support.apps.fuzz_host:main``): every kind of App.

The counter over a websocket at /, over HTTP POST at /http, with tracebacks at /debug, with
parano at /parano; an App without init arguments at /other; a plain route. A POST may be
larger than a websocket message (the limits differ on purpose).
"""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI
from tests.support.apps.hosts import COUNTER, hello

MAX_FRAME = 64 * 1024
MAX_BODY = 96 * 1024


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
    host.add_route("/hello.txt", hello)
    return host


main = build()
