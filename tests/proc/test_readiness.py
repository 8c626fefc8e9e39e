"""Misconfiguration is reported at startup, once, with what to change; meanwhile every page
is a clear 503, a websocket is closed with UNAVAILABLE, a POST gets a 503 JSON."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from htagweb_asgi import HtagASGI, Sessions
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.web import readiness
from tests.support.asgi_driver import call_http, call_websocket, http_scope, lifespan_running

pytestmark = pytest.mark.anyio
COUNTER = "tests.support.apps.counter:App"


def ws_scope() -> dict[str, object]:
    scope = http_scope("/_/ws", query=b"i=" + b"0" * 32)
    scope["type"] = "websocket"
    return scope


async def test_an_unusable_state_dir_is_said_once_and_every_transport_gets_a_503(
    tmp_path: Path, runtime_dir: str, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # a state dir under a file: no user, root included, can create it
    sessions = Sessions(secret_key="k" * 32, state_dir=str(blocker / "state"))
    host = HtagASGI(COUNTER, sessions=sessions, runtime_dir=runtime_dir)
    host.add_app("/http", COUNTER, http_only=True)
    caplog.set_level(logging.ERROR, logger="htagweb_asgi")
    async with lifespan_running(host) as answers:
        assert answers == [{"type": "lifespan.startup.complete"}]  # the server keeps running
        [logged] = [r for r in caplog.records if "cannot serve the htag Apps" in r.getMessage()]
        assert "state directory" in logged.getMessage() and "writable" in logged.getMessage()
        page = await call_http(host, http_scope("/"))
        assert page.status == 503 and b"cannot serve this application now" in page.body
        assert page.headers[b"retry-after"] == b"10"
        post = await call_http(host, http_scope("/http/_/post", "POST"), b"{}")
        assert post.status == 503 and json.loads(post.body)["code"] == Close.UNAVAILABLE
        sent = await call_websocket(host, ws_scope(), [])
        [control] = [json.loads(m["text"]) for m in sent if m.get("text")]
        assert control["htagweb"]["close"] == Close.UNAVAILABLE
        assert len([r for r in caplog.records if "cannot serve" in r.getMessage()]) == 1


async def test_a_runtime_dir_that_is_not_private_is_refused_then_fixed(
    runtime_dir: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    os.chmod(runtime_dir, 0o755)  # as another user may have created it in a shared /tmp
    host = HtagASGI(COUNTER, runtime_dir=runtime_dir)
    monkeypatch.setattr(readiness, "RECHECK", 0.0)
    try:
        refused = await call_http(host, http_scope("/"))
        assert refused.status == 503
        assert "mode 0700" in caplog.text and "choose another runtime_dir" in caplog.text
        os.chmod(runtime_dir, 0o700)  # the operator fixes it: no restart needed
        served = await call_http(host, http_scope("/"))
        assert served.status == 200
    finally:
        await host.shutdown()


async def test_a_runtime_dir_too_long_for_sockets_says_how_long_it_may_be(
    tmp_path: Path,
) -> None:
    host = HtagASGI(COUNTER, runtime_dir=str(tmp_path / ("x" * 60)))
    refused = await call_http(host, http_scope("/"))
    assert refused.status == 503
    assert host.started  # and it goes on answering, clearly, until the option is fixed
