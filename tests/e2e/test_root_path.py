"""uvicorn --root-path: the prefix a stripping proxy removed comes back in `path`.

(Async websocket clients cannot share a thread with the sync browser, hence this module.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.client import Visitor, click, updated_text
from tests.support.servers import start_server


@pytest.mark.anyio
async def test_uvicorn_root_path_behind_a_stripping_proxy(runtime: str, logs: Path) -> None:
    """uvicorn --root-path /ui expects a proxy that strips /ui: requests arrive as /...,
    the page and the cookie still name /ui, and the websocket works."""
    server = start_server(
        "uvicorn", "tests.support.apps.hosts:main", runtime, logs, "--root-path", "/ui"
    )
    try:
        async with Visitor(server.url) as visitor:
            response = await visitor.http.get("/")
            assert response.status_code == 200
            assert "Path=/ui;" in response.headers["set-cookie"]
            page = await visitor.page("/")
            assert page.config["prefix"] == "/ui" and page.config["sub"] == "/"
            async with visitor.websocket(
                page, path=""
            ) as ws:  # the proxy forwards /ui/_/ws as /_/ws
                assert updated_text(await click(ws, page, "inc")) == ["1"]
    finally:
        server.close()
