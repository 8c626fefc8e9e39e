"""Fixtures for end-to-end tests: each kind of real server in turn, raw clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import Server, start_server

ALL_SERVERS = ["hypercorn", "hypercorn-trio", "uvicorn", "uvicorn-uvloop"]


@pytest.fixture(scope="module", params=ALL_SERVERS)
def server(request: pytest.FixtureRequest, runtime: str, logs: Path) -> Iterator[Server]:
    """tests.support.apps.hosts:main served by each kind of server in turn."""
    running = start_server(request.param, "tests.support.apps.hosts:main", runtime, logs)
    yield running
    running.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the clients (websockets) are asyncio; the servers run both
