"""Per-user limits with real processes: an App allocating 2 GiB under memory_limit="256M"
ends, its user is told why, another user goes on; each mechanism this machine offers."""

from __future__ import annotations

import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.cli import format_listings
from htagweb_asgi.options import AppOptions
from htagweb_asgi.proc import cgroups
from htagweb_asgi.protocol import control
from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.channel import ChannelClosed
from htagweb_asgi.web.failures import LimitReached
from htagweb_asgi.web.page import inject_client, render_page
from htagweb_asgi.web.pool import AppLoadError
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.static import CLIENT_JS
from htagweb_asgi.web.target import UserTarget
from tests.support.pageparse import ParsedPage
from tests.support.pools import MakeRegistry
from tests.support.targets import target

pytestmark = pytest.mark.anyio

SCOPE = {"server": ("127.0.0.1", 4322)}
HOG = AppRef("tests.support.apps.hog", "App")
MECHANISMS = ["cgroup2", "cgroup1", "rlimit", "watchdog"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the worker's loop is not what these tests are about


def missing(mechanism: str) -> str | None:
    """Why `mechanism` cannot be tried here (None: it can)."""
    found = cgroups.find()
    if mechanism == "cgroup2" and found.v2 is None:
        return "; ".join(n for n in found.notes if n.startswith("cgroup2")) or "no cgroup2"
    if mechanism == "cgroup1" and found.v1 is None:
        return "; ".join(n for n in found.notes if n.startswith("cgroup1")) or "no cgroup1"
    return None


async def click(user: UserTarget, page: ParsedPage, button: str) -> tuple[Kind, bytes]:
    """One interaction on its own connection (as an HTTP interaction does)."""
    channel = await user.connect()
    assert channel is not None
    async with channel:
        await channel.send_json(
            Kind.ATTACH, {"instance": page.config["instance"], "subscribe": False}
        )
        await channel.send(Kind.INTERACT, page.click(button).encode())
        assert (await channel.receive())[0] is Kind.OK
        return await channel.receive()


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_past_its_memory_limit_a_process_ends_and_its_user_is_told(
    registries: MakeRegistry, runtime_dir: str, mechanism: str
) -> None:
    if (why := missing(mechanism)) is not None:
        pytest.skip(f"{mechanism} is not usable on this machine: {why}")
    registry = registries(limit_mechanism=mechanism, spare_processes=1)
    app = MountedApp("", HOG, AppOptions(memory_limit="256M", timeout_interaction=30))
    pool = registry.pool(app, SCOPE)
    hog, other = target(pool, "1" * 32), target(pool, "2" * 32)
    hog_page = await page(hog)
    other_page = await page(other)
    listing = await pool.listing()
    assert listing["limits"]["mechanism"] == mechanism
    assert listing["limits"]["memory_limit"] == 256 << 20
    with pytest.raises(ChannelClosed):
        await click(hog, hog_page, "hog")
    with pytest.raises(LimitReached, match="memory limit"):
        await hog.raise_if_limited(hog_page.pid)
    kind, reply = await click(other, other_page, "inc")  # the other user goes on
    assert kind is Kind.REPLY and b">1<" in reply
    metrics = (await pool.listing())["limits"]
    assert metrics["events"]["memory"] == 1
    shown = format_listings(control.listings(runtime_dir))  # what `ps` prints
    assert f"memory_limit 256.0M by {mechanism}" in shown and "reached 1 time(s)" in shown
    assert "256.0M" in shown.splitlines()[1]  # the other user's row: its LIMIT


async def page(user: UserTarget) -> ParsedPage:
    """The user's page, as the host serves it (its config names the App's instance)."""
    rendered = await render_page(user, PageRequest(((), {})), 30.0)
    html = inject_client(rendered, prefix="", sub="/", base="", config={}, scripts=[CLIENT_JS])
    return ParsedPage.parse(html)


async def test_past_its_cpu_limit_an_interaction_ends_its_process_and_its_user_is_told(
    registries: MakeRegistry,
) -> None:
    registry = registries()
    app = MountedApp("", HOG, AppOptions(cpu_limit=1, timeout_interaction=30))
    user = target(registry.pool(app, SCOPE), "3" * 32)
    user_page = await page(user)
    assert (await click(user, user_page, "inc"))[0] is Kind.REPLY  # a short one is fine
    with pytest.raises(ChannelClosed):
        await click(user, user_page, "burn")  # 60 s of CPU: SIGXCPU after 1-2 s
    with pytest.raises(LimitReached, match="CPU time limit"):
        await user.raise_if_limited(user_page.pid)


async def test_on_the_portable_path_a_memory_error_ends_the_process_as_its_limit(
    registries: MakeRegistry,
) -> None:
    """Windows' path, where a job's commit limit fails allocations as RLIMIT_DATA does
    here: the MemoryError htag swallows still ends the process, and its user is told."""
    registry = registries(portable=True, limit_mechanism="rlimit", spare_processes=1)
    app = MountedApp("", HOG, AppOptions(memory_limit="256M", timeout_interaction=30))
    hog = target(registry.pool(app, SCOPE), "5" * 32)
    hog_page = await page(hog)
    with pytest.raises(ChannelClosed):
        await click(hog, hog_page, "hog")
    with pytest.raises(LimitReached, match="memory limit"):
        await hog.raise_if_limited(hog_page.pid)


async def test_a_mechanism_this_machine_lacks_is_reported_when_the_template_starts(
    registries: MakeRegistry,
) -> None:
    found = cgroups.find()
    lacking = "cgroup2" if found.v2 is None else "cgroup1" if found.v1 is None else None
    if lacking is None:
        pytest.skip("this machine offers every mechanism")
    registry = registries(limit_mechanism=lacking)
    app = MountedApp("", HOG, AppOptions(memory_limit="256M"))
    with pytest.raises(AppLoadError, match=f"{lacking} is not available"):
        await page(target(registry.pool(app, SCOPE), "4" * 32))
