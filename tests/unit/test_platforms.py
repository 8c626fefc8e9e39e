"""The package imports as on Windows: no POSIX-only module (fcntl, resource...) outside a
branch that Windows does not take (mypy --platform win32 checks the calls; this checks
what runs at import time)."""

from __future__ import annotations

import json
import subprocess
import sys

# In a fresh interpreter: import what the standard library decides per platform first (as
# Linux), then make the POSIX-only modules fail as they do on Windows, give msvcrt a stand-in
# and say win32, and import every module of the package.
AS_WINDOWS = """
import importlib, json, pkgutil, sys, types
import asyncio, ctypes, mmap, selectors, signal, socket, sqlite3, subprocess, tempfile
import anyio, anyio._backends._asyncio
import htagweb_asgi
for name in ("fcntl", "resource", "termios", "pwd", "grp", "posix"):
    sys.modules[name] = None
msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_LOCK = 1
msvcrt.locking = lambda *args: None
sys.modules["msvcrt"] = msvcrt
sys.platform = "win32"
failed = {}
for info in pkgutil.walk_packages(htagweb_asgi.__path__, "htagweb_asgi."):
    if info.name not in sys.modules:
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
imported = [name for name in sys.modules if name.startswith("htagweb_asgi.")]
print(json.dumps({"failed": failed, "imported": len(imported)}))
"""


def test_every_module_imports_as_on_windows() -> None:
    done = subprocess.run(
        [sys.executable, "-c", AS_WINDOWS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["imported"] > 80  # the whole package, not a few modules
