"""The host of the chaos soak (``tests.support.apps.chaos_host:main``)."""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI
from htagweb_asgi.options import Admission
from tests.support.apps.hosts import hello

main = HtagASGI(
    "tests.support.apps.chaosapp:App",
    runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"),
    timeout_interaction=20,
    admission=Admission.unlimited(),  # 50 users from one address: not a flood here
)
main.add_route("/hello.txt", hello)
