"""Shared fixtures, and the tiers: every test is marked by the folder it lives in.

- unit/: no process of ours, no network; asyncio and trio (``pytest -m unit``, seconds);
- proc/: real template and user processes, driven in-process;
- e2e/: real servers on loopback ports, raw HTTP and websocket clients;
- browser/: real servers driven by headless Debian Chromium;
- cluster/: two nodes, Redis and balancers on loopback (Debian's redis-server, nginx, haproxy);
- htag2/: htag 2 Apps (collected only where htag 2 is installed; see scripts/test.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.htagversion import HTAG_MAJOR
from tests.support.servers import our_processes
from tests.support.waiting import eventually

TIERS = ("unit", "proc", "e2e", "browser", "cluster")

# tests/htag2 needs htag 2 (its own environment: .venv-htag2); an environment has one htag.
collect_ignore = ["htag2"] if HTAG_MAJOR == 1 else []

# Templates whose server is gone end at once in tests (not after the 60 s a restart may take):
# every test checks that nothing is left behind. Set here, before collection imports the apps
# (module-level HtagASGI objects), so that the servers the tests start inherit it too; the
# restart tests give their own grace.
os.environ.setdefault("HTAGWEB_RESTART_GRACE", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


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
    """A private runtime directory for one test; every template must clean up after itself."""
    directory = tempfile.mkdtemp(prefix="hwu-")
    yield directory
    eventually(
        lambda: not any(os.path.isdir(os.path.join(directory, n)) for n in os.listdir(directory)),
        10,
        message=f"a template did not clean up: {os.listdir(directory)}",
    )
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def runtime() -> Iterator[str]:
    """A private runtime directory shared by the servers of this run."""
    directory = tempfile.mkdtemp(prefix="hw-")
    yield directory
    eventually(lambda: not our_processes(directory), 10, message="processes left behind")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the servers started by the tests write their logs."""
    return tmp_path_factory.mktemp("server-logs")
