"""HtagASGI started and stopped by the frameworks' lifespans and by the Dispatcher's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from htagweb_asgi import Dispatcher, HtagASGI
from tests.support.asgi_driver import call_http, http_scope, lifespan_running
from tests.support.pageparse import ParsedPage

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Quart and Channels are asyncio frameworks


def fastapi_host(ui: HtagASGI) -> Any:
    from fastapi import FastAPI

    app = FastAPI(lifespan=ui.lifespan)
    app.mount("/ui", ui)
    return app


def litestar_host(ui: HtagASGI) -> Any:
    from litestar import Litestar, asgi

    return Litestar([asgi("/ui", is_mount=True, copy_scope=False)(ui)], lifespan=[ui.lifespan])


def quart_host(ui: HtagASGI) -> Any:
    from quart import Quart

    app = Quart(__name__)
    app.before_serving(ui.startup)
    app.after_serving(ui.shutdown)
    return app


def channels_host(ui: HtagASGI) -> Any:
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    return ProtocolTypeRouter({"http": URLRouter([path("ui/", ui)]), "lifespan": ui})


@pytest.mark.parametrize("build", [fastapi_host, litestar_host, quart_host, channels_host])
async def test_the_framework_starts_and_stops_the_host(
    build: Callable[[HtagASGI], Any], runtime_dir: str
) -> None:
    ui = HtagASGI("tests.support.apps.counter:App", runtime_dir=runtime_dir)
    async with lifespan_running(build(ui)) as answers:
        assert answers == [{"type": "lifespan.startup.complete"}]
        assert ui.started
    assert answers[-1] == {"type": "lifespan.shutdown.complete"}
    assert not ui.started


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_lifespan_reaches_the_mounted_host(runtime_dir: str) -> None:
    """Django-like main app (raises on lifespan): HtagASGI still starts, serves, and stops."""

    async def django_like(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    ui = HtagASGI("tests.support.apps.counter:App", runtime_dir=runtime_dir)
    dispatcher = Dispatcher({"/ui": ui}, default=django_like)
    async with lifespan_running(dispatcher) as answers:
        assert answers == [{"type": "lifespan.startup.complete"}]
        assert ui.started  # started by the lifespan, not by a first request
        result = await call_http(dispatcher, http_scope("/ui/"))
        assert result.status == 200
        page = ParsedPage.parse(result.body.decode())
        assert page.config["prefix"] == "/ui" and page.config["sub"] == "/"
        assert b"Path=/ui;" in result.headers[b"set-cookie"]
        redirect = await call_http(dispatcher, http_scope("/ui"))
        assert redirect.status == 307 and redirect.headers[b"location"] == b"ui/"
    assert answers[-1] == {"type": "lifespan.shutdown.complete"}
    assert not ui.started
