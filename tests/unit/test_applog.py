"""An App's exceptions are logged once per kind, then counted: a client cannot fill the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from htag import Tag
from htag.render import HRenderer

from htagweb_asgi.proc import applog


class Failing(Tag.body):
    def init(self) -> None:
        self.add(Tag.button("x", _onclick=self.boom))
        self.add(Tag.button("y", _onclick=self.other))

    def boom(self, _event: object) -> None:
        raise ValueError("boom " + "x" * 100_000)

    def other(self, _event: object) -> None:
        raise KeyError("other")


def click(renderer: HRenderer, index: int) -> dict[str, object]:
    button = renderer.tag.childs[index]
    oid = id(button)
    return asyncio.run(renderer.interact(oid, "__on__", [f"onclick-{oid}"], {}, {}))


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.ERROR, logger="htag.render")
    limiter = applog.ExceptionsOncePerKind()
    logging.getLogger("htag.render").addFilter(limiter)
    yield caplog
    logging.getLogger("htag.render").removeFilter(limiter)


def test_an_exception_kind_is_logged_once_then_counted(logged: pytest.LogCaptureFixture) -> None:
    renderer = HRenderer(Failing, "")
    for _ in range(150):
        assert "err" in click(renderer, 0)  # the App still gets its error reply each time
    click(renderer, 1)
    messages = [record.getMessage() for record in logged.records]
    assert len(messages) == 4  # boom once, at 10 and 100; other once
    assert messages[0].startswith("the App raised ValueError: boom")
    assert "(100005 characters)" in messages[0] and len(messages[0]) < 12_000
    assert ", in boom" in messages[0]  # where it was raised
    assert "100 times" in messages[2] and messages[3].startswith("the App raised KeyError")


def test_kinds_beyond_the_bound_are_not_logged() -> None:
    limiter = applog.ExceptionsOncePerKind()
    kept = 0
    for n in range(applog.MAX_KINDS + 10):
        record = logging.LogRecord(
            "htag.render", logging.ERROR, "f", 1, "Exception %s:\n%s",
            (ValueError(n), f'File "app.py", line {n}, in f'), None,
        )  # fmt: skip
        kept += limiter.filter(record)
    assert kept == applog.MAX_KINDS
