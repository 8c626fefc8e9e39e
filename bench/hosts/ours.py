"""Our host as the bench serves it: ``uvicorn bench.hosts.ours:app`` (any worker count).

The harness gives each server its own runtime directory (``HTAGWEB_BENCH_RUNTIME``) so the
runs never meet each other's sockets. The load of most scenarios comes from one address
(this machine): admission control's per-address limits are off, and the process cap raised
so that the 1,000-user sweep is not refused (they measure the host, not its limits). The
flood scenarios set ``HTAGWEB_BENCH_ADMISSION=defaults``: admission control as it ships.
"""

from __future__ import annotations

import os

from htagweb_asgi import Admission, HtagASGI

RUNTIME = os.environ.get("HTAGWEB_BENCH_RUNTIME")

if os.environ.get("HTAGWEB_BENCH_ADMISSION") == "defaults":
    app = HtagASGI("bench.apps.counter:App", runtime_dir=RUNTIME)
else:
    app = HtagASGI(
        "bench.apps.counter:App",
        runtime_dir=RUNTIME,
        max_processes=int(os.environ.get("HTAGWEB_BENCH_MAX_PROCESSES", "2000")),
        admission=Admission.unlimited(),
    )
