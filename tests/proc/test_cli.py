"""The operator's commands against live templates: ps lists, kill ends one user's process."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import anyio
import pytest

from htagweb_asgi import cli
from htagweb_asgi.options import AppOptions
from htagweb_asgi.parano import primitives
from htagweb_asgi.protocol.pagerequest import PageRequest
from htagweb_asgi.web.page import render_page
from htagweb_asgi.web.registry import PoolRegistry
from tests.support.pools import COUNTER
from tests.support.targets import target
from tests.support.waiting import eventually_async, pid_alive, pid_gone

pytestmark = pytest.mark.anyio


async def command(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "htagweb_asgi", *args]
    return await anyio.to_thread.run_sync(
        lambda: subprocess.run(argv, capture_output=True, text=True, timeout=30)
    )


async def test_ps_lists_and_kill_ends_a_users_process(
    registry: PoolRegistry, runtime_dir: str
) -> None:
    pool = registry.pool(COUNTER, {"server": ("127.0.0.1", 8000)})
    for digit in "12":
        await render_page(target(pool, digit * 32), PageRequest(((), {})), 10.0)
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
    await eventually_async(lambda: pid_gone(pids["1" * 12]))
    assert pid_alive(pids["2" * 12])
    assert (await command("kill", "abcdef", "--runtime-dir", runtime_dir)).returncode == 1


@pytest.mark.skipif(not primitives.aes_gcm_available(), reason="this CPU has no AES instructions")
def test_every_option_of_the_command_line_reaches_the_server_or_the_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """main() gives the address, workers and root path to the server, and the App's options
    to each worker (through the environment): dropping any one of them fails here."""
    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "serve", lambda app, **options: served.update(options, app=app))
    monkeypatch.setenv(cli.CONFIG_ENV, "")  # whatever main() writes is undone after the test
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() may add the current directory
    cli.main(
        [
            "tests.support.apps.counter:App",
            *("--host", "127.0.0.2", "--port", "8123", "--workers", "3"),
            *("--debug", "--http-only", "--parano", "--root-path", "/px"),
            *("--transport", "sse"),
            *("--timeout-interaction", "7.5", "--timeout-inactivity", "30"),
        ]
    )
    assert served == {
        "app": "htagweb_asgi.cli:app_from_environment",
        "factory": True,
        "host": "127.0.0.2",
        "port": 8123,
        "workers": 3,
        "root_path": "/px",
        "debug": True,
        "ws_per_message_deflate": False,  # ciphertext does not compress
    }
    worker = cli.app_from_environment()  # what each worker builds
    assert worker.app_options("/") == AppOptions(
        debug=True,
        parano=True,
        http_only=True,
        timeout_interaction=7.5,
        timeout_inactivity=30,
        transport="sse",
    )


def test_a_transport_that_does_not_exist_is_a_usage_error() -> None:
    assert cli.parse_args(["m:App"]).transport == "auto"
    with pytest.raises(SystemExit):
        cli.parse_args(["m:App", "--transport", "smoke-signals"])
