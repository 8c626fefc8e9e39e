"""A template whose starting worker died before its report: it serves the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from htagweb_asgi import paths
from htagweb_asgi.protocol.config import TEMPLATE_MODULE, TemplateConfig
from tests.support.pools import COUNTER, MakeRegistry
from tests.support.waiting import eventually

pytestmark = pytest.mark.anyio

SCOPE = {"server": ("127.0.0.1", 4324)}


def start_without_reading_the_report(config: TemplateConfig, log: Path) -> None:
    """Start a template as a worker does, then close our end of its report pipe at once
    (the worker is gone); return once the first process forked the template and exited."""
    with open(log, "wb") as stderr:
        starter = subprocess.Popen(
            [sys.executable, "-m", TEMPLATE_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert starter.stdin is not None and starter.stdout is not None
    starter.stdin.write(config.to_json().encode() + b"\n")
    starter.stdin.close()
    starter.stdout.close()
    starter.wait(30)


async def test_a_template_whose_starter_is_gone_serves_the_other_workers(
    registries: MakeRegistry, tmp_path: Path
) -> None:
    """The worker that started the template was killed before the template said it was
    ready (a chaos soak's kill, on a loaded machine): the report finds a closed pipe. The
    template goes on, without a traceback, and the next worker takes a lease on it rather
    than starting a second one."""
    pool = registries().pool(COUNTER, SCOPE)
    paths.ensure_private_dir(pool.directory)
    log = tmp_path / "template.log"
    await anyio.to_thread.run_sync(start_without_reading_the_report, pool.config, log)
    control = os.path.join(pool.directory, pool.config.control_name)
    eventually(lambda: os.path.exists(control), 30, message="the template never listened")

    async def no_second_template() -> None:
        raise AssertionError("the worker started a second template")

    pool._start_template = no_second_template  # type: ignore[method-assign]
    assert (await pool.status())["loaded"] is True  # a lease on that template
    assert "Traceback" not in log.read_text()
