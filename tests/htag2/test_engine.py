"""proc/htag2.py driven in-process: what a user process gets from an htag 2 App."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import pytest
from htag import State, Tag

from htagweb_asgi.proc import htag2_outbox
from htagweb_asgi.proc.engine import CreationFailed, engine
from htagweb_asgi.proc.htag2 import Htag2App
from htagweb_asgi.protocol.codes import Close, Rejected
from htagweb_asgi.protocol.pagerequest import PageRequest

pytestmark = pytest.mark.anyio

URL = "http://127.0.0.1:8000/ui/"


def request(query: str = "", headers: list[tuple[str, str]] | None = None) -> PageRequest:
    url = URL + (f"?{query}" if query else "")
    return PageRequest(((), {}), url, "/ui/", "/ui", query, headers or [], ("10.1.2.3", 5555))


class Page:
    """A user process's view of one App: what it pushes, what it replies, in order."""

    def __init__(self, app_class: type, *, deliver: bool = True, debug: bool = True) -> None:
        self.wire: list[tuple[str, dict[str, Any]]] = []
        self.deliver = deliver  # False: no websocket page (http_only)
        self.session: dict[str, Any] = {"user": "ann"}
        self.exits = 0
        self.engine = Htag2App(
            app_class,
            request(),
            debug=debug,
            session=self.session,
            push=self.push,
            on_exit=self.exit,
        )
        self.app: Any = self.engine.app

    def exit(self) -> None:
        self.exits += 1

    async def push(self, data: bytes) -> bool:
        if self.deliver:
            self.wire.append(("push", json.loads(data)))
        return self.deliver

    async def send(self, tag: Any, event: str = "click", **data: Any) -> list[dict[str, Any]]:
        data.setdefault("callback_id", f"cb{len(self.wire)}")
        message = {"id": tag.id, "event": event, "data": data}
        reply = json.loads(await self.engine.interact(json.dumps(message).encode()))
        assert isinstance(reply, list)
        self.wire.extend(("reply", payload) for payload in reply)
        return reply

    def texts(self, tag: Any) -> list[str]:
        """The successive texts the page shows for `tag`, applying the wire in order."""
        pattern = re.compile(rf'id="{re.escape(tag.id)}"[^>]*>([^<]*)<')
        return [
            text
            for _, payload in self.wire
            for html in (payload.get("updates") or {}).values()
            for text in pattern.findall(html)
        ]


class Counter(Tag.App):
    def init(self) -> None:
        self.count = State(0)
        self.button = Tag.button("+1", _onclick=self.increment)
        self.shown = Tag.span(lambda: f"count={self.count.value}")

    def increment(self, _event: Any) -> int:
        self.count.value += 1
        return int(self.count.value)


class Streamer(Tag.App):
    def init(self) -> None:
        self.gate = asyncio.Event()
        self.status = Tag.span("idle")
        self.button = Tag.button("go", _onclick=self.work)

    async def work(self, _event: Any) -> Any:
        self.status.text = "working"
        yield
        await self.gate.wait()
        self.status.text = "done"


async def test_a_click_is_answered_with_its_update_and_result() -> None:
    page = Page(Counter)
    assert "count=0" in page.engine.render(request())
    reply = await page.send(page.app.button, callback_id="c1")
    assert [p["callback_id"] for p in reply] == ["c1"] and reply[0]["result"] == 1
    assert page.texts(page.app.shown) == ["count=1"]


async def test_generator_steps_are_pushed_before_the_handler_ends() -> None:
    page = Page(Streamer)
    page.engine.render(request())
    sending = asyncio.ensure_future(page.send(page.app.button))
    await asyncio.wait_for(_until(lambda: page.texts(page.app.status) == ["working"]), 5)
    assert not sending.done()
    page.app.gate.set()
    await asyncio.wait_for(sending, 5)
    assert page.texts(page.app.status) == ["working", "done"]
    assert [kind for kind, _ in page.wire] == ["push", "reply"]


async def test_what_no_page_took_goes_first_in_the_next_reply() -> None:
    """http_only: pushes wait for the next interaction, in order, before its reply."""
    page = Page(Counter, deliver=False)
    page.engine.render(request())
    page.app.count.value = 10  # a background change: htag schedules a broadcast
    await asyncio.sleep(0.1)  # htag's throttle is 0.05 s; nothing reaches a page meanwhile
    assert page.wire == []
    await page.send(page.app.button)
    assert page.texts(page.app.shown) == ["count=10", "count=11"]


async def test_a_new_websocket_page_gets_what_no_page_took() -> None:
    page = Page(Counter, deliver=False)
    page.engine.render(request())
    page.app.count.value = 5
    await asyncio.sleep(0.1)
    first = await page.engine.attached()
    assert first is not None and "count=5" in first.decode()
    assert await page.engine.attached() is None  # given once


async def test_too_much_kept_becomes_one_update_of_the_whole_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(htag2_outbox, "MAX_KEPT", 3)
    page = Page(Counter, deliver=False)
    page.engine.render(request())
    for n in range(5):
        page.app.count.value = n + 1
        await page.app.broadcast_updates()
    first = await page.engine.attached()
    assert first is not None
    kept = json.loads(first)
    assert len(kept) <= 3 and page.app.id in kept[0]["updates"]  # the body, then what followed
    assert page.texts(page.app.shown) == [] and "count=5" in first.decode()


async def test_a_constructor_that_raises_is_a_creation_failure() -> None:
    class Failing(Tag.App):
        def init(self) -> None:
            raise RuntimeError("init fails on purpose")

    with pytest.raises(CreationFailed, match="init fails on purpose"):
        Page(Failing)


async def test_a_failing_handler_answers_its_callback_with_an_error() -> None:
    class Broken(Tag.App):
        def init(self) -> None:
            self.button = Tag.button("boom", _onclick=self.boom)

        def boom(self, _event: Any) -> None:
            raise ValueError("secret detail")

    for debug in (True, False):
        page = Page(Broken, debug=debug)
        (reply,) = await page.send(page.app.button, callback_id="b")
        assert reply["action"] == "error" and reply["callback_id"] == "b"
        assert ("secret detail" in reply["traceback"]) is debug


async def test_the_app_reads_its_request_and_our_session() -> None:
    seen: dict[str, Any] = {}

    class Reader(Tag.App):
        def init(self) -> None:
            seen["init"] = (str(self.request.url), self.request.session["user"])
            self.button = Tag.button("read", _onclick=self.read)

        def read(self, _event: Any) -> None:
            r = self.request
            seen["read"] = (dict(r.query_params), r.headers["x-test"], r.cookies, r.client.host)
            r.session["seen"] = True

    page = Page(Reader)
    assert seen["init"] == (URL, "ann")
    headers = [("x-test", "yes"), ("cookie", "theme=dark")]
    page.engine.render(request("a=1&b", headers))
    await page.send(page.app.button)
    assert seen["read"] == ({"a": "1", "b": ""}, "yes", {"theme": "dark"}, "10.1.2.3")
    assert page.session["seen"] is True


async def test_n_asks_for_a_fresh_app() -> None:
    page = Page(Counter)
    assert page.engine.serves(request("x=1"))
    assert not page.engine.serves(request("n"))
    assert not page.engine.serves(request("x=1&n="))


async def test_a_reload_runs_the_unmount_and_mount_hooks() -> None:
    log: list[str] = []

    class Hooks(Tag.App):
        def on_mount(self) -> None:
            log.append("mount")

        def on_unmount(self) -> None:
            log.append("unmount")

    page = Page(Hooks)
    page.engine.render(request())
    assert log == ["mount"]
    page.engine.render(request())
    assert log == ["mount", "unmount", "mount"]


async def test_an_on_mount_generator_starts_when_a_websocket_page_attaches() -> None:
    class Loading(Tag.App):
        def init(self) -> None:
            self.status = Tag.span("loading")

        async def on_mount(self) -> Any:  # htag pushes at each yield (not after the last)
            self.status.text = "step"
            yield
            self.status.text = "ready"
            yield

    page = Page(Loading)
    page.engine.render(request())
    await asyncio.sleep(0.05)
    assert page.wire == []
    await page.engine.attached()
    await asyncio.wait_for(_until(lambda: page.texts(page.app.status) == ["step", "ready"]), 5)


async def test_destroy_runs_on_destroy_and_nothing_is_pushed_after() -> None:
    ended: list[str] = []

    class Ending(Counter):
        async def on_destroy(self) -> None:
            await asyncio.sleep(0.01)
            ended.append("destroyed")

    page = Page(Ending)
    await page.engine.destroy()
    assert ended == ["destroyed"]
    page.app.count.value = 3
    await page.app.broadcast_updates()
    assert page.wire == []


async def test_exit_is_given_to_apps_that_have_none() -> None:
    page = Page(Counter)
    page.app.exit()
    assert page.exits == 1


async def test_forged_event_data_cannot_replace_the_events_own_attributes() -> None:
    """htag 2 would setattr every data key on the Event: e.target could be a string."""
    got: dict[str, Any] = {}

    class Spy(Tag.App):
        def init(self) -> None:
            self.button = Tag.button("spy", _onclick=self.spy)

        def spy(self, e: Any) -> None:
            got.update(target=e.target, name=e.name, id=e.id, value=e.value, x=e.x)

    page = Page(Spy)
    forged: dict[str, Any] = {"target": "x", "name": "no", "id": "f", "__dict__": {}, "_y": 1}
    await page.send(page.app.button, value=5, x=7, **forged)
    button = page.app.button
    assert got == {"target": button, "name": "click", "id": button.id, "value": 5, "x": 7}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"not json", Close.INVALID_PAYLOAD),
        (b"[1]", Close.POLICY_VIOLATION),
        (b'{"id": 5, "event": "click"}', Close.POLICY_VIOLATION),
        (b'{"id": "x", "event": ""}', Close.POLICY_VIOLATION),
        (b'{"id": "x", "event": "click", "data": [1]}', Close.POLICY_VIOLATION),
        (b'{"id": "x", "event": "click", "data": {"callback_id": 3}}', Close.POLICY_VIOLATION),
        (b'{"action": "eval", "code": "1"}', Close.POLICY_VIOLATION),
        (b"[" * 100_000 + b"]" * 100_000, Close.POLICY_VIOLATION),  # nested too deeply
    ],
)
async def test_malformed_messages_are_rejected_with_a_close_code(raw: bytes, code: Close) -> None:
    page = Page(Counter)
    with pytest.raises(Rejected) as info:
        await page.engine.interact(raw)
    assert info.value.code == code


async def test_a_lone_surrogate_from_the_page_becomes_a_replacement_character() -> None:
    """JSON.stringify sends "\\ud800" for a broken string: it must not break the replies."""
    got: list[Any] = []

    class Echo(Tag.App):
        def init(self) -> None:
            self.button = Tag.button("echo", _onclick=self.echo)
            self.out = Tag.span("")

        def echo(self, e: Any) -> None:
            got.append(e.value)
            self.out.text = e.value

    page = Page(Echo)
    message = b'{"id": "%s", "event": "click", "data": {"callback_id": "s", "value": "a\\ud800b"}}'
    reply = await page.engine.interact(message % page.app.button.id.encode())
    assert got == ["a\ufffdb"] and "a\ufffdb" in str(json.loads(reply)[0]["updates"])


async def test_script_errors_of_the_page_are_logged_not_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = Page(Counter)
    with caplog.at_level(logging.WARNING):
        reply = await page.engine.interact(b'{"action": "log_error", "error": "boom"}')
    assert reply == b"[]" and "boom" in caplog.text


async def test_the_page_uses_our_transport_and_no_root_path() -> None:
    class Titled(Tag.App):
        statics = [Tag.title("<b>x</b>"), Tag.style("b{color:red}")]

    html = Page(Titled).engine.render(request())
    assert "window.HTAG_EXT_INIT=true" in html and "function htag_event" in html
    assert "<title>&lt;b&gt;x&lt;/b&gt;</title>" in html and "b{color:red}" in html
    assert "/logo.png" not in html and "PARANO" not in html.split("</script>", 2)[0]


async def test_this_environment_runs_the_htag_2_engine() -> None:
    assert engine().major == 2 and engine().create is Htag2App
    await engine().warm_up()


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)
