"""Shared fixtures: anyio tests run on asyncio and trio unless they say otherwise."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest


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
