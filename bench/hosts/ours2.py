"""Our host serving the htag 2 counter: ``uvicorn bench.hosts.ours2:app`` (bench/.venv-htag2).

As bench/hosts/ours.py: its own runtime directory per run, and the process cap from the
environment (the flood scenario runs with the default cap, 1000).
"""

from __future__ import annotations

import os

from htagweb_asgi import HtagASGI

app = HtagASGI(
    "bench.apps.counter2:App",
    runtime_dir=os.environ.get("HTAGWEB_BENCH_RUNTIME"),
    max_processes=int(os.environ.get("HTAGWEB_BENCH_MAX_PROCESSES", "1000")),
)
