"""The host of the chaos soak (``tests.support.apps.chaos_host:main``)."""

from __future__ import annotations

import os

from htagweb_asgi import Admission, HtagASGI
from tests.support.apps.hosts import hello

main = HtagASGI(
    "tests.support.apps.chaosapp:App",
    runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"),
    timeout_interaction=20,
    # 50 users from one loopback address, each starting processes again after the kills:
    # the per-address limits (tested in tests/e2e/test_admission.py) would refuse them.
    admission=Admission.unlimited(),
)
main.add_route("/hello.txt", hello)
