"""What the figures were measured on: machine, kernel, Python, package versions, load."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

PACKAGES = {
    "ours": ["htagweb-asgi", "htag", "uvicorn", "uvloop", "httptools", "websockets", "anyio"],
    "client": ["httpx", "websockets", "psutil", "uvloop"],
    "htagweb": ["htagweb", "htag", "uvicorn", "uvloop", "httptools", "websockets", "starlette"],
}
_VERSIONS = """
import json, sys
from importlib import metadata
names = json.loads(sys.argv[1])
found = {}
for name in names:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = None
print(json.dumps({"python": sys.version.split()[0], "packages": found}))
"""


def versions(python: str, names: list[str]) -> dict[str, Any]:
    """Python and package versions as `python` (a venv's interpreter) sees them."""
    done = subprocess.run(
        [python, "-c", _VERSIONS, json.dumps(names)], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _distro() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.platform()


def _git_commit(root: Path) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or None


def describe(root: Path, pythons: dict[str, str | None], client_python: str) -> dict[str, Any]:
    """The machine and software of this run."""
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": _distro(),
        "loadavg_at_start": os.getloadavg(),
        "commit": _git_commit(root),
        "software": {
            "client": versions(client_python, PACKAGES["client"]),
            **{
                name: versions(python, PACKAGES[name])
                for name, python in pythons.items()
                if python is not None
            },
        },
    }
