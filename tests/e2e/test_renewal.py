"""New App code without a restart, with a real server, on both process models: the App's
source changes, the next new user gets the new code, an existing user keeps its process
(and the code it started with) until `roll` moves it. The default path re-executes the
template; the portable path (HTAGWEB_PORTABLE=1), where each user process imports the App
itself, ends its spares, which hold the old code."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from htagweb_asgi.protocol import control
from tests.support.client import Visitor
from tests.support.servers import ROOT, start_server
from tests.support.waiting import eventually_async, pid_alive, pid_gone

pytestmark = pytest.mark.anyio

APP = textwrap.dedent(
    """
    import os
    from htag import Tag

    class App(Tag.body):
        def init(self):
            self.add(Tag.div("{version}", _class="version"))
            self.add(Tag.div(f"pid={{os.getpid()}}", _class="pid"))
    """
)
HOST = textwrap.dedent(
    """
    import os
    from htagweb_asgi import HtagASGI
    from tests.support.apps.hosts import hello

    main = HtagASGI("edited_app:App", runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"))
    main.add_route("/hello.txt", hello)
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A directory holding the App the test edits, and its host."""
    (tmp_path / "edited_app.py").write_text(APP.format(version="v1"))
    (tmp_path / "edited_host.py").write_text(HOST)
    yield tmp_path


def edit(module: Path, version: str) -> None:
    module.write_text(APP.format(version=version))
    stamp = time.time() + 5  # a different mtime even on coarse file systems
    os.utime(module, (stamp, stamp))


def spares_up(runtime: str) -> bool:
    """Whether the template has spares, all of them up (on the portable path: their App
    imported, before the edit)."""
    [template] = control.listings(runtime)
    spares = [row for row in template["others"] if row["state"] == "spare"]
    return bool(spares) and all(row["up"] for row in spares)


@pytest.mark.parametrize("portable", ["0", "1"], ids=["default", "portable"])
async def test_new_users_get_new_code_and_roll_moves_the_others(
    portable: str, project: Path, runtime_dir: str, logs: Path
) -> None:
    env = {"HTAGWEB_PORTABLE": portable, "PYTHONPATH": f"{project}{os.pathsep}{ROOT}"}
    server = start_server("uvicorn", "edited_host:main", runtime_dir, logs, env=env)
    try:
        async with Visitor(server.url) as old, Visitor(server.url) as new:
            first = await old.page()
            assert first.texts["version"] == "v1"
            await eventually_async(lambda: spares_up(runtime_dir), 30, message="no spare is up")
            edit(project / "edited_app.py", "v2")
            second = await new.page()  # a new user: the new code
            assert second.texts["version"] == "v2" and second.pid != first.pid
            again = await old.page()  # an existing user keeps its process, and its code
            assert again.texts["version"] == "v1" and again.pid == first.pid
            assert control.roll(runtime_dir) == 1  # the old code's process ends
            await eventually_async(lambda: pid_gone(first.pid), 10)
            assert pid_alive(second.pid)
            moved = await old.page()
            assert moved.texts["version"] == "v2" and moved.pid != first.pid
    finally:
        server.close()
