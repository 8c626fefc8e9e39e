"""LifespanFanOut: one server conversation, one per app, each app's failure kept apart."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from htagweb_asgi.web.dispatch import LifespanFanOut
from tests.support.asgi_driver import call_lifespan, lifespan_running

pytestmark = pytest.mark.anyio


class LifespanApp:
    """Answers lifespan events as told: "complete", "failed", "raise" or "return"."""

    def __init__(self, startup: str = "complete", shutdown: str = "complete") -> None:
        self.behaviour = {"lifespan.startup": startup, "lifespan.shutdown": shutdown}
        self.seen: list[str] = []
        self.states: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.states.append(scope.get("state", {}))
        while True:
            event = (await receive())["type"]
            self.seen.append(event)
            action = self.behaviour[event]
            if action == "raise":
                raise ValueError("no lifespan here")
            if action == "return":
                return
            message = {"type": f"{event}.{action}"}
            if action == "failed":
                message["message"] = f"{event} went wrong"
            await send(message)
            if event == "lifespan.shutdown":
                return


async def test_every_app_starts_and_stops() -> None:
    first, second = LifespanApp(), LifespanApp()
    answers = await call_lifespan(LifespanFanOut([first, second]), "startup", "shutdown")
    assert [a["type"] for a in answers] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert first.seen == second.seen == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.parametrize("unsupported", ["raise", "return"])
async def test_an_app_without_lifespan_is_left_out(unsupported: str) -> None:
    """Django raises on a lifespan scope; the others start and stop all the same."""
    django_like, ours = LifespanApp(startup=unsupported), LifespanApp()
    async with lifespan_running(LifespanFanOut([django_like, ours])) as answers:
        assert answers == [{"type": "lifespan.startup.complete"}]
        assert ours.seen == ["lifespan.startup"]
    assert answers[-1] == {"type": "lifespan.shutdown.complete"}
    assert django_like.seen == ["lifespan.startup"]  # never asked to shut down
    assert ours.seen == ["lifespan.startup", "lifespan.shutdown"]


async def test_a_failed_startup_is_reported_and_the_others_are_stopped() -> None:
    good, bad = LifespanApp(), LifespanApp(startup="failed")
    answers = await call_lifespan(LifespanFanOut([good, bad]), "startup")
    assert answers == [
        {"type": "lifespan.startup.failed", "message": "lifespan.startup went wrong"}
    ]
    assert good.seen == ["lifespan.startup", "lifespan.shutdown"]


async def test_a_failed_shutdown_is_reported() -> None:
    fan_out = LifespanFanOut([LifespanApp(), LifespanApp(shutdown="failed")])
    answers = await call_lifespan(fan_out, "startup", "shutdown")
    assert answers[-1] == {
        "type": "lifespan.shutdown.failed",
        "message": "lifespan.shutdown went wrong",
    }


async def test_an_app_raising_after_startup_does_not_block_shutdown() -> None:
    fragile, ours = LifespanApp(shutdown="raise"), LifespanApp()
    answers = await call_lifespan(LifespanFanOut([fragile, ours]), "startup", "shutdown")
    assert answers[-1] == {"type": "lifespan.shutdown.complete"}
    assert ours.seen == ["lifespan.startup", "lifespan.shutdown"]


async def test_apps_share_the_servers_lifespan_state() -> None:
    first, second = LifespanApp(), LifespanApp()
    state: dict[str, Any] = {}
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        pass

    with anyio.fail_after(10):
        await LifespanFanOut([first, second])({"type": "lifespan", "state": state}, receive, send)
    assert first.states[0] is state and second.states[0] is state


async def test_startup_runs_in_parallel() -> None:
    """A slow app does not hold the others' startup back (each waits for the other)."""
    both_started = [anyio.Event(), anyio.Event()]

    def waiting_for_the_other(index: int) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            both_started[index].set()
            await both_started[1 - index].wait()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

        return app

    fan_out = LifespanFanOut([waiting_for_the_other(0), waiting_for_the_other(1)])
    answers = await call_lifespan(fan_out, "startup", "shutdown")
    assert answers[0] == {"type": "lifespan.startup.complete"}


async def test_the_server_hears_the_end_only_once_the_apps_returned() -> None:
    """hypercorn cancels the lifespan task as soon as it has the shutdown answer."""
    answered, may_return = anyio.Event(), anyio.Event()
    returned: list[bool] = []
    heard_end_after_return: list[bool] = []

    async def tidy_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        answered.set()
        await may_return.wait()  # tidies up after answering, until the test lets it return
        returned.append(True)

    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return events.pop(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            heard_end_after_return.append(bool(returned))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(LifespanFanOut([tidy_app]), {"type": "lifespan"}, receive, send)
            await answered.wait()
            await anyio.wait_all_tasks_blocked()  # a relay that did not wait has spoken now
            assert heard_end_after_return == []
            may_return.set()
    assert heard_end_after_return == [True]
