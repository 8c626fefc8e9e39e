"""HtagASGI driven in-process: routing, lifespan, refusals (real template and user processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from htagweb_asgi import AppImportError, HtagASGI, ParanoUnavailable
from htagweb_asgi.options import AppOptions
from htagweb_asgi.parano import primitives
from tests.support.asgi_driver import call_http, call_lifespan, call_websocket, http_scope
from tests.support.pageparse import ParsedPage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def host(runtime_dir: str) -> AsyncIterator[HtagASGI]:
    app = HtagASGI("tests.support.apps.counter:App", runtime_dir=runtime_dir)
    yield app
    await app.shutdown()


async def test_lifespan_startup_and_shutdown_complete(host: HtagASGI) -> None:
    """The lifespan protocol is answered (hosts that never send it are fine too)."""
    answers = await call_lifespan(host, "startup", "shutdown")
    assert [a["type"] for a in answers] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_page_under_a_mount_prefix(host: HtagASGI) -> None:
    """Mounted at /ui (Starlette style: root_path in path), the page knows its prefix."""
    result = await call_http(host, http_scope("/ui/", root_path="/ui"))
    assert result.status == 200
    page = ParsedPage.parse(result.body.decode())
    assert page.config["prefix"] == "/ui" and page.config["sub"] == "/"
    assert b"Path=/ui;" in result.headers[b"set-cookie"]
    assert result.headers[b"x-content-type-options"] == b"nosniff"
    assert 'src="./_/client-websocket-http.js?v=' in result.body.decode()


async def test_the_mount_point_without_slash_redirects_relatively(host: HtagASGI) -> None:
    result = await call_http(host, http_scope("/ui", root_path="/ui", query=b"a=1"))
    assert result.status == 307 and result.headers[b"location"] == b"ui/?a=1"


async def test_head_answers_the_headers_without_a_process(host: HtagASGI) -> None:
    """A monitor's or a crawler's HEAD costs no process: no length (only a GET knows it),
    no cookie, the page's headers."""
    result = await call_http(host, http_scope("/", "HEAD"))
    assert result.status == 200 and result.body == b""
    assert result.headers[b"content-type"].startswith(b"text/html")
    assert b"content-length" not in result.headers and b"set-cookie" not in result.headers
    assert result.headers[b"x-content-type-options"] == b"nosniff"


async def test_unknown_paths_and_methods(host: HtagASGI) -> None:
    assert (await call_http(host, http_scope("/x"))).status == 404
    assert (await call_http(host, http_scope("/", "DELETE"))).status == 405
    assert (await call_http(host, http_scope("/_/client.js"))).status == 200


async def test_a_websocket_to_an_unknown_path_is_refused(host: HtagASGI) -> None:
    scope = http_scope("/nowhere")
    scope["type"] = "websocket"
    sent = await call_websocket(host, scope, [])
    assert sent[0]["type"] == "websocket.close"  # no denial-response extension: close → 403


async def test_a_refusal_uses_the_denial_response_when_offered(host: HtagASGI) -> None:
    scope = http_scope("/nowhere")
    scope.update(type="websocket", extensions={"websocket.http.response": {}})
    sent = await call_websocket(host, scope, [])
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 404


async def test_at_the_process_cap_a_new_user_gets_503_with_retry_after(runtime_dir: str) -> None:
    """max_processes reached and nobody idle long enough to be evicted: a clear 503."""
    from htagweb_asgi import Admission, TemplateSettings

    settings = TemplateSettings(evict_after=3600, spare_processes=0)
    app = HtagASGI(
        "tests.support.apps.counter:App",
        runtime_dir=runtime_dir,
        max_processes=1,
        template=settings,
        admission=Admission(client_share=1.0),  # the cap, not this address's share of it
    )
    try:
        assert (await call_http(app, http_scope("/"))).status == 200
        refused = await call_http(app, http_scope("/"))  # another browser: no cookie
        assert refused.status == 503
        assert refused.headers[b"retry-after"] == b"10"
        assert b"busy" in refused.body
    finally:
        await app.shutdown()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError):
        HtagASGI("m:App", timeout_interaction=0)
    with pytest.raises(ValueError):
        HtagASGI("m:App", timeout_inactivity=-1)
    with pytest.raises(ValueError):
        HtagASGI("m:App", max_body_size=0)
    host = HtagASGI("m:App")
    with pytest.raises(TypeError, match="unknown App option"):
        host.add_app("/x", "m:App", color="red")
    with pytest.raises(ValueError, match="already served"):
        host.add_app("/", "m:App")
    with pytest.raises(ValueError):
        host.add_route("/_/x", object())


def test_app_options_are_the_defaults_with_each_apps_overrides() -> None:
    host = HtagASGI("m:App", debug=True, timeout_interaction=7)
    host.add_app("/admin", "m:App", http_only=True)
    assert host.app_options() == AppOptions(debug=True, timeout_interaction=7)
    admin = AppOptions(debug=True, http_only=True, timeout_interaction=7)
    assert host.app_options("/admin") == host.app_options("admin/") == admin
    with pytest.raises(KeyError):
        host.app_options("/nothing")
    with pytest.raises(ValueError):
        host.app_options("/../admin")
    with pytest.raises(KeyError):
        HtagASGI().app_options()


@pytest.mark.skipif(not primitives.aes_gcm_available(), reason="this CPU has no AES instructions")
def test_parano_is_refused_at_configuration_without_hardware_aes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback: a CPU without AES instructions cannot serve parano; said at once."""
    HtagASGI("m:App", parano=True)
    monkeypatch.setattr(primitives, "aes_gcm_available", lambda: False)
    with pytest.raises(ParanoUnavailable, match="AES-256-GCM in hardware"):
        HtagASGI("m:App", parano=True)
    plain = HtagASGI("m:App")  # without parano nothing changes
    with pytest.raises(ParanoUnavailable):
        plain.add_app("/secret", "m:App", parano=True)


def test_apps_defined_in_a_function_are_refused() -> None:
    from htag import Tag

    class Local(Tag.body):
        pass

    with pytest.raises(AppImportError, match="module level"):
        HtagASGI(Local)
    with pytest.raises(AppImportError):
        HtagASGI(42)


async def test_a_draining_worker_serves_its_users_but_starts_no_process(host: HtagASGI) -> None:
    """drain() (SIGTERM does the same): readyz 503, a new user 503 with Retry-After, a user
    who has a process still served; healthz still answers."""
    first = await call_http(host, http_scope("/"))
    assert first.status == 200
    cookie = first.headers[b"set-cookie"].split(b";")[0]
    assert (await call_http(host, http_scope("/_/readyz"))).body == b"ready\n"
    host.drain()
    ready = await call_http(host, http_scope("/_/readyz"))
    assert (ready.status, ready.body) == (503, b"not ready: draining\n")
    newcomer = await call_http(host, http_scope("/"))
    assert newcomer.status == 503 and newcomer.headers[b"retry-after"] == b"5"
    assert b"restarting" in newcomer.body
    again = await call_http(host, http_scope("/", headers=[(b"cookie", cookie)]))
    assert again.status == 200
    assert (await call_http(host, http_scope("/_/healthz"))).status == 200
