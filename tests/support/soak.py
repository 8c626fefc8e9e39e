"""Users of the chaos soak: each clicks its App (tests/support/apps/chaosapp.py) through a
raw websocket, as the page's script would, and does what the page does when the connection
ends: reconnect when it dropped (a server worker died), reload when the host says the
process ended. Each writes down when things happened, for the test to judge against the
chaos it caused."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from htagweb_asgi.protocol.codes import Close
from tests.support.client import Visitor
from tests.support.pageparse import ParsedPage
from tests.support.waiting import pid_alive

STEP = 20.0  # seconds any one step may take (a click, a page, a handshake)
RETRIES = 50  # transport errors in a row (a server worker restarting) before giving up


@dataclass
class Recovery:
    """A hit (the connection ended) and what it took to click again."""

    at: float
    why: str  # "dropped" (no close code), or the host's close code
    pid: int  # the page's process when it happened
    pages: int = 0  # page loads it took
    endings: int = 0  # connections that ended again before it was back
    back: float | None = None  # when a click was acknowledged again


@dataclass
class SoakUser:
    visitor: Visitor
    first_click: int  # this user's click numbers start here (unique across users)
    acked: list[int] = field(default_factory=list)
    last_ack: float = 0.0  # when the last click was acknowledged
    sent: int = 0
    recoveries: list[Recovery] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # what no chaos explains
    page: ParsedPage | None = None

    @property
    def session_id(self) -> str:
        value = next(c.value for c in self.visitor.http.cookies.jar if c.name == "htagweb_session")
        return str(value).split(".")[0]

    async def run(self, stop: anyio.Event, rng: random.Random) -> None:
        """Click until `stop`, recovering from whatever the chaos does."""
        await self._load()
        while not stop.is_set():
            why = await self._converse(stop, rng)
            if why is None:
                return
            assert self.page is not None
            hit = Recovery(time.monotonic(), why, self.page.pid)
            self.recoveries.append(hit)
            await self._recover(hit, stop, rng)

    async def _recover(self, hit: Recovery, stop: anyio.Event, rng: random.Random) -> None:
        """Reconnect while the process lives (a worker died), else reload; one at a time,
        until a click is acknowledged."""
        if hit.why == str(int(Close.CRASHED)) and not await _ends(hit.pid):
            self.wrong.append(f"told its App crashed, but process {hit.pid} lives on")
        why, pid = hit.why, hit.pid
        while not stop.is_set() and hit.back is None:
            reattach = why == "dropped" and pid_alive(pid)
            if not reattach:
                await self._load()
                hit.pages += 1
            why = await self._converse(stop, rng, hit) or ""
            if reattach and why not in ("", "dropped") and not await _ends(pid):
                self.wrong.append(f"reconnecting to live process {pid} was refused: {why}")
            if why and hit.back is None:
                hit.endings += 1
                pid = self.page.pid if self.page else pid

    async def _load(self) -> None:
        for _ in range(RETRIES):
            try:
                with anyio.fail_after(STEP):
                    response = await self.visitor.http.get("/")
            except (httpx.TransportError, TimeoutError):
                await anyio.sleep(0.1)  # the connection went down with a worker: again
                continue
            if response.status_code == 200:
                self.page = ParsedPage.parse(response.text)
                return
            self.wrong.append(f"page answered {response.status_code}: {response.text[:200]}")
            await anyio.sleep(0.2)
        raise AssertionError(f"no page after {RETRIES} attempts: {self.wrong[-3:]}")

    async def _converse(
        self, stop: anyio.Event, rng: random.Random, hit: Recovery | None = None
    ) -> str | None:
        """Click over one websocket until `stop` (None) or its end (why it ended)."""
        assert self.page is not None
        try:
            async with self.visitor.websocket(self.page, ready=False) as ws:
                first = await _receive(ws)
                if "close" in first.get("htagweb", {}):
                    return await _answer_close(ws, first)
                while not stop.is_set():
                    ended = await self._click(ws)
                    if ended is not None:
                        return ended
                    if hit is not None and hit.back is None:
                        hit.back = time.monotonic()
                    await anyio.sleep(rng.uniform(0.2, 0.6))
                return None
        except websockets.InvalidStatus as exc:
            if exc.response.status_code >= 500:
                self.wrong.append(f"websocket handshake answered {exc.response.status_code}")
            return "dropped"
        except (websockets.ConnectionClosed, OSError, websockets.InvalidHandshake):
            return "dropped"
        except TimeoutError:
            self.wrong.append(f"no answer within {STEP:g} s")
            return "dropped"

    async def _click(self, ws: ClientConnection) -> str | None:
        assert self.page is not None
        number = self.first_click + self.sent
        self.sent += 1
        message = json.loads(self.page.click("write"))
        message["event"] = {"value": str(number)}
        await ws.send(json.dumps(message))
        while True:
            reply = await _receive(ws)
            if "close" in reply.get("htagweb", {}):
                return await _answer_close(ws, reply)
            if f"last={number}<" in json.dumps(reply.get("update", {})):
                self.acked.append(number)
                self.last_ack = time.monotonic()
                return None


async def _receive(ws: ClientConnection) -> dict[str, Any]:
    with anyio.fail_after(STEP):
        message = json.loads(await ws.recv())
    assert isinstance(message, dict), message
    return message


async def _answer_close(ws: ClientConnection, message: dict[str, Any]) -> str:
    """Close as the page does when the host asks; return the code."""
    request = message["htagweb"]
    assert isinstance(request, dict)
    await ws.close(int(request["close"]), str(request["reason"]))
    return str(request["close"])


async def _ends(pid: int, seconds: float = 5.0) -> bool:
    """Whether `pid` is gone within `seconds` (a crash is reported as the process ends)."""
    with anyio.move_on_after(seconds):
        while pid_alive(pid):
            await anyio.sleep(0.02)
        return True
    return False
