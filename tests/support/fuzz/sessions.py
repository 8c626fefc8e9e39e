"""The fuzzing sessions: pages loaded once, before the fuzz, as a browser would."""

from __future__ import annotations

import json

from tests.support.client import Visitor
from tests.support.fuzz.cases import Context


async def prepare(fuzzer: Visitor, pages: Visitor, port: int) -> Context:
    """Load the pages whose endpoints the fuzz targets (`fuzzer`'s session) and the page that
    takes hostile queries (`pages`' session)."""
    ws_page = await fuzzer.page("/")
    http_page = await fuzzer.page("/http")
    parano_page = await fuzzer.page("/parano")
    await pages.page("/")
    return Context(
        port=port,
        cookie=fuzzer.cookie_header.encode(),
        page_cookie=pages.cookie_header.encode(),
        ws_instance=ws_page.config["instance"],
        ws_click=ws_page.click("say").encode(),
        http_instance=http_page.config["instance"],
        http_click=json.dumps(json.loads(http_page.click("say"))).encode(),
        csrf=http_page.config["csrf"].encode(),
        parano_instance=parano_page.config["instance"],
        pids=(ws_page.pid, http_page.pid, parano_page.pid),
    )


async def fuzzed_pids(fuzzer: Visitor) -> tuple[int, int, int]:
    """The processes of the fuzzing session's Apps now (their pages reloaded as they were)."""
    return (
        (await fuzzer.page("/")).pid,
        (await fuzzer.page("/http")).pid,
        (await fuzzer.page("/parano")).pid,
    )
