"""10,000 malformed inputs against uvicorn with two workers: hostile headers, cookies,
origins, paths, queries, interaction bodies and websocket frames, and clients that leave
half-way (see tests/support/fuzz/). A user who clicked before the fuzz keeps their App.

What must hold: no 5xx, no websocket told that its App crashed (or is unavailable), no
traceback or error of the package in the server's log, no lost App.

Longer: HTAGWEB_FUZZ_SCALE=10 sends ten times as many (other seeds: HTAGWEB_FUZZ_SEED).
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.support.client import Visitor, click, updated_text
from tests.support.fuzz import serverlog
from tests.support.fuzz.plan import plan
from tests.support.fuzz.runner import run_all
from tests.support.fuzz.sessions import fuzzed_pids, prepare
from tests.support.servers import start_server

pytestmark = pytest.mark.anyio

SEED = int(os.environ.get("HTAGWEB_FUZZ_SEED", "10"))
SCALE = float(os.environ.get("HTAGWEB_FUZZ_SCALE", "1"))
CONCURRENCY = 12
SECRET = "a fuzzing secret that is long enough"


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": True})  # the raw clients cost half as much CPU on it


async def test_ten_thousand_malformed_inputs(runtime: str, logs: Path) -> None:
    server = start_server(
        "uvicorn",
        "tests.support.apps.fuzz_host:main",
        runtime,
        logs,
        *("--workers", "2", "--log-config", str(serverlog.write_config(logs))),
        env={"HTAGWEB_SECRET_KEY": SECRET},
    )
    try:
        async with Visitor(server.url) as user:
            page = await user.page()
            async with user.websocket(page) as ws:
                for _ in range(3):
                    await click(ws, page, "inc")
            async with Visitor(server.url) as fuzzer, Visitor(server.url) as pages:
                ctx = await prepare(fuzzer, pages, server.port)
                with anyio.fail_after(300 * SCALE):
                    report = await run_all(plan(SEED, ctx, SCALE), ctx, CONCURRENCY)
                print(f"{report.inputs} inputs: {sorted(report.outcomes.items())}")  # pytest -s
                assert report.inputs >= 10_000 * SCALE, report.inputs
                # the processes whose endpoints took the fuzz served it all, and still do
                assert await fuzzed_pids(fuzzer) == ctx.pids
            again = await user.page()  # no lost App: the same process and count, serving
            assert (again.pid, again.texts["value"]) == (page.pid, "3")
            async with user.websocket(again) as ws:
                assert updated_text(await click(ws, again, "inc")) == ["4"]
    finally:
        server.close()
    ours, _ = serverlog.problems(server.log())  # read at the end: it may tell why
    assert (report.problems, ours) == ([], []), "\n".join(report.problems[:20] + ours[:10])
