"""The operator's commands against live templates: ps lists, kill ends one user's process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator

import anyio
import psutil
import pytest

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import AppOptions, Limits, TemplateSettings
from htagweb_asgi.web.page import render_page
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp
from tests.support.targets import target

pytestmark = pytest.mark.anyio

APP = MountedApp("", AppRef("tests.support.apps.counter", "App"), AppOptions())


@pytest.fixture
async def registry(runtime_dir: str) -> AsyncIterator[PoolRegistry]:
    pools = PoolRegistry(runtime_dir, Limits(), TemplateSettings(lease_grace=0.5))
    yield pools
    await pools.close()


async def command(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "htagweb_asgi", *args]
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(argv, capture_output=True, text=True, timeout=30)
    )


async def test_ps_lists_and_kill_ends_a_users_process(
    registry: PoolRegistry, runtime_dir: str
) -> None:
    pool = registry.pool(APP, {"server": ("127.0.0.1", 8000)})
    for digit in "12":
        await render_page(target(pool, digit * 32), ((), {}), 10.0)
    listing = (await pool.listing())["processes"]
    pids = {entry["key"]: entry["pid"] for entry in listing}
    shown = await command("ps", "--runtime-dir", runtime_dir)
    assert shown.returncode == 0, shown.stderr
    assert "tests.support.apps.counter:App" in shown.stdout and "port:8000 /" in shown.stdout
    for key, pid in pids.items():
        assert key in shown.stdout and str(pid) in shown.stdout
    assert "USS" in shown.stdout.splitlines()[0]
    ended = await command("kill", "1" * 12, "--runtime-dir", runtime_dir)
    assert ended.returncode == 0 and "ended 1" in ended.stdout
    with anyio.fail_after(5):
        while (
            psutil.pid_exists(pids["1" * 12])
            and psutil.Process(pids["1" * 12]).status() != psutil.STATUS_ZOMBIE
        ):
            await anyio.sleep(0.02)
    assert psutil.pid_exists(pids["2" * 12])
    assert (await command("kill", "abcdef", "--runtime-dir", runtime_dir)).returncode == 1


def test_the_command_line_passes_parano_to_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """--parano reaches HtagASGI in each worker (through the environment)."""
    from htagweb_asgi import cli

    args = cli.parse_args(["tests.support.apps.counter:App", "--parano", "--http-only"])
    assert args.parano and args.http_only
    config = {
        "app": args.app,
        "debug": False,
        "http_only": True,
        "parano": True,
        "timeout_interaction": 60.0,
        "timeout_inactivity": 0.0,
    }
    monkeypatch.setenv(cli._CONFIG_ENV, json.dumps(config))
    host = cli.app_from_environment()
    assert host._defaults.parano and host._defaults.http_only
