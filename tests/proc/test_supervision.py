"""Supervision with real processes: fork and spawn, eviction at the cap, renewal on source
change, Apps that fail at creation, the operator's kill."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.cli import format_listings
from htagweb_asgi.options import AppOptions
from htagweb_asgi.proc.osutil import memory_usage
from htagweb_asgi.protocol import control
from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.channel import Channel
from htagweb_asgi.web.failures import PageError
from htagweb_asgi.web.page import render_page
from htagweb_asgi.web.pool import AppLoadError, PoolFull, ProcessPool
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from tests.support.pools import COUNTER, MakeRegistry
from tests.support.targets import target
from tests.support.waiting import eventually_async, pid_alive

pytestmark = pytest.mark.anyio

SCOPE = {"server": ("127.0.0.1", 4321)}


def key(n: int) -> str:
    """A process key whose every digit is n (n < 10): prefixes tell users apart."""
    return str(n) * 32


def socket_gone(path: str) -> bool:
    return not os.path.exists(path)


async def page_of(pool: ProcessPool, n: int) -> tuple[str, int]:
    """Render user n's page; return its HTML and the pid that rendered it."""
    return await page_for(pool, key(n))


async def page_for(pool: ProcessPool, process_key: str) -> tuple[str, int]:
    """Render the page of the user whose process key is `process_key` (see page_of)."""
    page = await render_page(target(pool, process_key), PageRequest(((), {})), 10.0)
    pid = int(page.html.split("pid=")[1].split("<")[0]) if "pid=" in page.html else -1
    return page.html, pid


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
async def test_both_start_methods_serve_users(registries: MakeRegistry, start_method: str) -> None:
    """fork (copy-on-write from the template) and spawn (the fallback) both serve users."""
    pool = registries(start_method=start_method).pool(COUNTER, SCOPE)
    _, pid = await page_of(pool, 1)
    assert (await pool.listing())["start_method"] == start_method
    assert (await page_of(pool, 1))[1] == pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="USS is read from Linux /proc")
async def test_a_forked_process_owns_less_memory_than_a_spawned_one(
    registries: MakeRegistry,
) -> None:
    """A forked user process shares the template's pages; a spawned one, a fresh
    interpreter, owns its own (compared, not held to a ratio: that varies with the kernel)."""
    owned = {}
    for start_method in ("fork", "spawn"):
        pool = registries(start_method=start_method).pool(COUNTER, SCOPE)
        _, pid = await page_of(pool, 1)
        owned[start_method] = memory_usage(pid)["uss"]
    assert owned["fork"] < owned["spawn"], owned


async def test_new_users_take_a_ready_spare_which_is_replaced(registries: MakeRegistry) -> None:
    """Spares are started ahead, in quiet moments; a new user gets one at once."""
    pool = registries(spare_processes=2).pool(COUNTER, SCOPE)
    await page_of(pool, 1)

    async def spares() -> list[int]:
        return list((await pool.listing())["spares"])

    with anyio.fail_after(10):
        while len(await spares()) < 2:
            await anyio.sleep(0.02)
    ready = await spares()
    _, pid = await page_of(pool, 2)
    assert pid in ready
    with anyio.fail_after(10):
        while len(now := await spares()) < 2 or pid in now:
            await anyio.sleep(0.02)
    assert all(pid_alive(spare) for spare in now)


async def test_at_the_cap_the_least_recently_active_process_is_evicted(
    registries: MakeRegistry,
) -> None:
    """evict_after=0: every process may be evicted, so the cap ends the least recently
    active one, whatever the machine's speed (the idle threshold itself, with a fake clock:
    tests/unit/test_eviction.py)."""
    made = registries(max_processes=2, evict_after=0, spare_processes=0)
    pool = made.pool(COUNTER, SCOPE)
    _, first = await page_of(pool, 1)
    _, second = await page_of(pool, 2)
    await page_of(pool, 1)  # user 1 is active again: user 2 is the least recently active
    _, third = await page_of(pool, 3)
    await eventually_async(lambda: not pid_alive(second))
    assert pid_alive(first) and pid_alive(third)


async def test_at_the_cap_processes_active_within_evict_after_are_kept(
    registries: MakeRegistry,
) -> None:
    made = registries(max_processes=2, evict_after=3600, spare_processes=0)
    pool = made.pool(COUNTER, SCOPE)
    _, first = await page_of(pool, 1)
    _, second = await page_of(pool, 2)
    with pytest.raises(PoolFull):
        await page_of(pool, 3)
    assert pid_alive(first) and pid_alive(second)


async def test_apps_failing_at_creation_give_an_error_not_a_loop(registry: PoolRegistry) -> None:
    for qualname, debug, expected in (
        ("RaisesInInit", True, "init fails on purpose"),
        ("RaisesInInit", False, "failed to handle"),
        ("DiesInInit", False, "ended while starting"),
    ):
        app = MountedApp(
            f"/{qualname}{debug}",
            AppRef("tests.support.apps.failing", qualname),
            AppOptions(debug=debug),
        )
        pool = registry.pool(app, SCOPE)
        with pytest.raises(PageError, match=expected):
            await render_page(target(pool, key(1)), PageRequest(((), {})), 10.0)
        await eventually_async(partial(socket_gone, pool.socket_path(key(1))))


async def test_an_app_that_does_not_import_is_reported_with_its_traceback(
    registry: PoolRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = MountedApp("", AppRef("tests.support.apps.broken", "App"), AppOptions())
    pool = registry.pool(app, SCOPE)
    starts: list[object] = []
    start_process = anyio.open_process

    async def counted(command: Any, **options: Any) -> anyio.abc.Process:
        starts.append(command)
        return await start_process(command, **options)

    monkeypatch.setattr(anyio, "open_process", counted)
    with pytest.raises(AppLoadError) as info:
        await pool.spawn(key(1))
    assert "broken on purpose" in info.value.traceback and len(starts) == 1
    with pytest.raises(AppLoadError) as again:  # remembered: no new template start for a while
        await pool.spawn(key(1))
    assert "broken on purpose" in again.value.traceback and len(starts) == 1


@pytest.fixture
def editable_app(tmp_path: Path) -> Iterator[Path]:
    """An App module the test edits, importable as renewable_app."""
    module = tmp_path / "renewable_app.py"
    module.write_text(APP_SOURCE.format(version="v1"))
    sys.path.insert(0, str(tmp_path))
    yield module
    sys.path.remove(str(tmp_path))
    sys.modules.pop("renewable_app", None)


APP_SOURCE = textwrap.dedent(
    """
    import os
    from htag import Tag

    class App(Tag.body):
        def init(self):
            self.add(Tag.div("{version}", _class="version"))
            self.add(Tag.div(f"pid={{os.getpid()}}", _class="pid"))
    """
)


def edit(module: Path, text: str) -> None:
    module.write_text(text)
    stamp = time.time() + 5  # a different mtime even on coarse file systems
    os.utime(module, (stamp, stamp))


async def test_a_source_change_renews_the_template_for_new_users(
    registry: PoolRegistry, editable_app: Path
) -> None:
    """New users get the new code; existing users keep their process; the template keeps
    its pid; a broken edit is reported until it is fixed."""
    app = MountedApp("", AppRef("renewable_app", "App"), AppOptions(debug=True))
    pool = registry.pool(app, SCOPE)
    html, old_pid = await page_of(pool, 1)
    assert "v1" in html
    template_pid = (await pool.listing())["pid"]
    edit(editable_app, APP_SOURCE.format(version="v2"))
    html, new_pid = await page_of(pool, 2)
    assert "v2" in html and new_pid != old_pid
    html, pid = await page_of(pool, 1)
    assert "v1" in html and pid == old_pid  # an existing user keeps the code it started with
    listing = await pool.listing()
    assert listing["pid"] == template_pid and len(listing["processes"]) == 2
    edit(editable_app, "this is not python(")
    with pytest.raises(AppLoadError, match=r"SyntaxError|invalid syntax"):
        await page_of(pool, 3)
    edit(editable_app, APP_SOURCE.format(version="v3"))
    assert "v3" in (await page_of(pool, 3))[0]


async def test_roll_ends_the_processes_of_older_code_and_ps_shows_them(
    registries: MakeRegistry, runtime_dir: str, editable_app: Path
) -> None:
    """After a renewal, `roll` ends the users still on the old code (their pages reload on
    the new one); those already on it stay. `ps` shows each process's state."""
    app = MountedApp("", AppRef("renewable_app", "App"), AppOptions())
    pool = registries(spare_processes=1).pool(app, SCOPE)
    _, old = await page_of(pool, 1)
    edit(editable_app, APP_SOURCE.format(version="v2"))
    _, new = await page_of(pool, 2)  # a new user: the template renews

    def shown() -> str:
        return format_listings(control.listings(runtime_dir))

    await eventually_async(lambda: " spare " in shown(), message="no spare started")
    assert "never-attached" in shown()
    assert control.roll(runtime_dir) == 1
    await eventually_async(lambda: not pid_alive(old))
    assert pid_alive(new)
    assert control.roll(runtime_dir) == 0
    ended = (await pool.listing())["processes"]
    assert [p["pid"] for p in ended] == [new]


async def test_the_operator_can_end_one_users_processes(registry: PoolRegistry) -> None:
    """KILL by session hash prefix ends every process it matches, says how many (a count,
    not a flag), and leaves the others alone."""
    pool = registry.pool(COUNTER, SCOPE)
    prefix = "1" * 12
    _, pid = await page_for(pool, prefix + "a" * 20)
    _, twin = await page_for(pool, prefix + "b" * 20)  # the same prefix: the same session
    _, other = await page_of(pool, 2)
    async with await Channel.connect(os.path.join(pool.directory, "template.sock")) as channel:
        kind, reply = await channel.request(Kind.KILL, {"match": prefix})
    assert kind is Kind.DONE and reply == {"killed": 2}
    await eventually_async(lambda: not pid_alive(pid) and not pid_alive(twin))
    assert pid_alive(other)
