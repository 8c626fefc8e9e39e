"""The htag 2 counter served with an inactivity timeout beside it (``/idle``), for the tests
of the App's end hook (tests/htag2/test_lifecycle.py)."""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI
from tests.support.apps.hosts import hello

COUNTER = "tests.support.apps.htag2.counter:App"

main = HtagASGI(COUNTER, runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"))
main.add_app("/idle", COUNTER, timeout_inactivity=1.0)
main.add_route("/hello.txt", hello)
