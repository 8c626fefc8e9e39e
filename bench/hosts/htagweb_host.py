"""htagweb 1.0.0 as the bench serves it: ``uvicorn bench.hosts.htagweb_host:app``.

Runs only in bench/.venv-htagweb, and only inside the sandbox of bench/sandbox.py: htagweb
SIGKILLs every pid it finds in ``/tmp/*/*/PID`` when it starts and stops.
"""

from __future__ import annotations

from htagweb import Runner

# the App by name, as htagweb users do: its user processes import it themselves
app = Runner("bench.apps.counter.App")
