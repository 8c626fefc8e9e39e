"""Our host as the bench serves it: ``uvicorn bench.hosts.ours:app`` (any worker count).

The harness gives each server its own runtime directory (``HTAGWEB_BENCH_RUNTIME``) so the
runs never meet each other's sockets, and raises the process cap so that the 1,000-user
sweep is not refused by admission control (it measures the host, not the cap).
"""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI

app = HtagASGI(
    "bench.apps.counter:App",
    runtime_dir=os.environ.get("HTAGWEB_BENCH_RUNTIME"),
    max_processes=int(os.environ.get("HTAGWEB_BENCH_MAX_PROCESSES", "2000")),
)
