"""HtagASGI's lifespan hooks in each framework's own lifespan, for mounts that get none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from htagweb_asgi import HtagASGI
from tests.asgi_driver import lifespan_running

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
    ui = HtagASGI("tests.apps.counter:App", runtime_dir=runtime_dir)
    async with lifespan_running(build(ui)) as answers:
        assert answers == [{"type": "lifespan.startup.complete"}]
        assert ui._services is not None
    assert answers[-1] == {"type": "lifespan.shutdown.complete"}
    assert ui._services is None
