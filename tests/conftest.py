"""Shared fixtures: anyio tests run on asyncio and trio unless they say otherwise."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def state_dir() -> Iterator[str]:
    """Keys and session databases of this run go to a private directory, not ~/.local/state
    (servers started by the tests inherit it through the environment)."""
    directory = tempfile.mkdtemp(prefix="hw-state-")
    previous = os.environ.get("HTAGWEB_STATE_DIR")
    os.environ["HTAGWEB_STATE_DIR"] = directory
    yield directory
    if previous is None:
        del os.environ["HTAGWEB_STATE_DIR"]
    else:
        os.environ["HTAGWEB_STATE_DIR"] = previous
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runtime_dir() -> Iterator[str]:
    """A private, short runtime directory (unix socket paths are limited to ~100 bytes)."""
    directory = tempfile.mkdtemp(prefix="hwu-")
    yield directory
    # every template removes its App directory when it stops: none may be left behind
    deadline = time.monotonic() + 10
    while any(os.path.isdir(os.path.join(directory, name)) for name in os.listdir(directory)):
        assert time.monotonic() < deadline, f"a template did not clean up: {os.listdir(directory)}"
        time.sleep(0.05)  # polling a condition, bounded by the deadline
    shutil.rmtree(directory, ignore_errors=True)
