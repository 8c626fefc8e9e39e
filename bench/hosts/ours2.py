"""Our host serving the htag 2 counter: ``uvicorn bench.hosts.ours2:app`` (bench/.venv-htag2).

As bench/hosts/ours.py: its own runtime directory per run, the process cap from the
environment (1000 by default here), and the per-address limits of admission control off: all
the load comes from one address, and the flood scenario measures what each stranger costs
(at default settings one address would start 20 processes, then 1 a second; see
docs/guide/admission.md).
"""

from __future__ import annotations

import os

from htagweb_asgi import Admission, HtagASGI

app = HtagASGI(
    "bench.apps.counter2:App",
    runtime_dir=os.environ.get("HTAGWEB_BENCH_RUNTIME"),
    max_processes=int(os.environ.get("HTAGWEB_BENCH_MAX_PROCESSES", "1000")),
    admission=Admission.unlimited(),
)
