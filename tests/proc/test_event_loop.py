"""The user processes' event loop (TemplateSettings.event_loop): uvloop where installed by
default, the standard loop when asked, and a clear error when uvloop is asked for and absent."""

from __future__ import annotations

import importlib

import pytest

from htagweb_asgi import HtagASGI, TemplateSettings
from htagweb_asgi.proc import eventloop
from tests.support.asgi_driver import call_http, http_scope

pytestmark = pytest.mark.anyio
APP = "tests.support.apps.loopname:App"


@pytest.mark.parametrize(
    ("choice", "shown"), [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")]
)
async def test_the_user_process_runs_the_loop_chosen(
    runtime_dir: str, choice: str, shown: str
) -> None:
    """The App's page is rendered in its process, on its loop: the page says which."""
    importlib.import_module("uvloop")  # the test venv has it (the bench's servers too)
    app = HtagASGI(APP, runtime_dir=runtime_dir, template=TemplateSettings(event_loop=choice))
    try:
        result = await call_http(app, http_scope("/"))
        assert result.status == 200
        assert f"loop={shown}" in result.body.decode()
    finally:
        await app.shutdown()


def test_auto_falls_back_to_asyncio_and_uvloop_missing_is_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.import_module

    def without_uvloop(name: str, package: str | None = None) -> object:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_uvloop)
    assert eventloop.resolve("auto") == "asyncio"
    assert eventloop.resolve("asyncio") == "asyncio"
    with pytest.raises(eventloop.LoopUnavailable, match="not installed"):
        eventloop.resolve("uvloop")
    with pytest.raises(eventloop.LoopUnavailable, match="must be one of"):
        eventloop.resolve("trio")


def test_event_loop_is_checked_in_the_settings() -> None:
    with pytest.raises(ValueError, match="event_loop"):
        TemplateSettings(event_loop="trio")
