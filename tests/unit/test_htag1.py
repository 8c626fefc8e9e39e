"""Validation of what a page sends before htag sees it."""

from __future__ import annotations

import json

import pytest

from htagweb_asgi.proc.htag1 import parse, usable_init
from htagweb_asgi.proc.pagejson import NESTING_LIMIT
from htagweb_asgi.protocol.codes import Close, Rejected


def test_a_click_parses() -> None:
    call = parse(
        b'{"id": 140, "method": "__on__", "args": ["onclick-140"], "kargs": {}, "event": {"x": 1}}'
    )
    assert (call.oid, call.method, call.args, call.kargs, call.event) == (
        140,
        "__on__",
        ["onclick-140"],
        {},
        {"x": 1},
    )


def test_a_generator_step_has_no_method() -> None:
    assert parse(b'{"id": 7, "method": null, "args": null, "kargs": null}').method is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{nope", Close.INVALID_PAYLOAD),
        (b"\xff\xfe", Close.INVALID_PAYLOAD),
        (b"[1, 2]", Close.POLICY_VIOLATION),
        (b'{"id": "1"}', Close.POLICY_VIOLATION),
        (b'{"id": true}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "_hr"}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "__class__"}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "a.b"}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": 3}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "m", "args": {}}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "m", "kargs": []}', Close.POLICY_VIOLATION),
        (b'{"id": 1, "method": "m", "event": "x"}', Close.POLICY_VIOLATION),
    ],
)
def test_malformed_interactions_are_rejected_with_a_close_code(payload: bytes, code: int) -> None:
    with pytest.raises(Rejected) as info:
        parse(payload)
    assert info.value.code == code and info.value.reason


def test_public_methods_and_htag_dispatchers_are_allowed() -> None:
    for method in ("increment", "__on__", "__on_event__"):
        assert parse(json.dumps({"id": 1, "method": method}).encode()).method == method


def test_query_keywords_that_name_attributes_of_the_app_are_dropped() -> None:
    """?parent=1 would make htag refuse the App; ?b=1 names nothing (Tag.b is made up)."""
    from tests.support.apps.counter import App

    init = (("a",), {"b": "1", "parent": "1", "session": "x", "render": "1", "js": "1"})
    assert usable_init(App, init) == (("a",), {"b": "1", "js": "1"})


def _nested_args(depth: int, core: bytes = b"1") -> bytes:
    """A click (an object) whose args nest `depth` lists around `core`: depth + 1 levels."""
    return b'{"id": 1, "method": "m", "args": ' + b"[" * depth + core + b"]" * depth + b"}"


@pytest.mark.parametrize("core", [b"1", b'"\\ud800"'])
@pytest.mark.parametrize("depth", [NESTING_LIMIT, 600, 990])
def test_deep_nesting_is_refused_whatever_it_holds(depth: int, core: bytes) -> None:
    """Within the JSON parser's reach but past the limit: refused (1008), with or without a
    lone surrogate to scrub (whose scrubbing recursed until the process lost the message)."""
    with pytest.raises(Rejected) as info:
        parse(_nested_args(depth, core))
    assert info.value.code == Close.POLICY_VIOLATION


def test_nesting_up_to_the_limit_is_served_and_scrubbed() -> None:
    """NESTING_LIMIT levels: the object and NESTING_LIMIT - 1 lists."""
    call = parse(_nested_args(NESTING_LIMIT - 1, b'"\\ud800"'))
    inner: object = call.args
    for _ in range(NESTING_LIMIT - 2):
        assert isinstance(inner, list)
        inner = inner[0]
    assert inner == ["\ufffd"]


def test_the_template_runs_htags_code_once_without_an_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """preload() (in the template, which never runs a loop) runs the page and interaction
    code to the end; a warm-up that would wait for something is stopped there, cleanly."""
    import asyncio

    from htagweb_asgi.proc import htag1

    htag1._warm_up_without_loop()  # the real one: htag's render and click, no loop needed
    ended: list[str] = []

    async def waits() -> None:
        try:
            await asyncio.Event().wait()  # would need a running loop
        finally:
            ended.append("closed")

    monkeypatch.setattr(htag1, "warm_up", waits)
    htag1.preload()
    assert ended == ["closed"] * 3
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
