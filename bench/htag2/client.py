"""A visitor of an htag 2 counter (bench/apps/counter2.py), on our host or on htag 2's runner.

Both speak htag 2's messages: a click is ``{"id", "event": "click", "data": {"callback_id"}}``
and its answer the payload carrying that callback id. They differ in what comes around it:

- ours: the page links our client script and the htag 2 bridge (a new browser fetches both),
  the websocket is ``<app>/_/ws?i=<instance>`` and says ``{"htagweb": {"ready": true}}``
  first; a reply is a JSON array of payloads, a push one payload;
- htag 2's runner: its script is inline, its websocket ``/ws`` (the ``htag_sid`` cookie
  names the App) sends the whole body first; every message is one payload.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.apps.counter2 import PUSHES
from bench.timeouts import deadline

TIMEOUT = 30.0
_CONFIG = re.compile(r'<script id="htagweb-config" type="application/json">(.*?)</script>')
_SCRIPTS = re.compile(r'<script src="\.?/?(_/[a-z0-9]+\.js\?v=[0-9a-f]+)"></script>')
_BUTTON = re.compile(r"<button ([^>]*)>")
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_VALUE = re.compile(r'class="value"[^>]*>(\d+)<')
_PID = re.compile(r"pid=(\d+)")
_STAMP = re.compile(r'data-t="(\d+)"')


class ProtocolError(Exception):
    """The host answered something a page would not accept."""


@dataclass(frozen=True)
class Arrival:
    page_ns: int  # GET of the page
    usable_ns: int  # until a click can work (scripts, websocket, its first message)


class User2:
    """One new visitor: arrive(), then click() and push_round()."""

    def __init__(self, base_url: str, kind: str) -> None:
        self.base_url = base_url
        self.kind = kind  # "ours2" or "runner"
        self.http = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT)
        self.ws: ClientConnection | None = None
        self.ids: dict[str, str] = {}
        self.count = 0
        self.pid = 0
        self._calls = 0

    async def arrive(self) -> Arrival:
        start = time.perf_counter_ns()
        page = await self._get("/")
        page_ns = time.perf_counter_ns() - start
        path = await self._page_needs(page)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        self.ws = await websockets.connect(
            self.base_url.replace("http://", "ws://", 1) + path,
            additional_headers={"cookie": cookies},
            origin=self.base_url,  # type: ignore[arg-type]  # a browser sends its page's origin
            open_timeout=TIMEOUT,
            ping_interval=None,
            max_size=None,
        )
        async with deadline(TIMEOUT):
            first = json.loads(await self.ws.recv())
        if self.kind == "ours2" and first != {"htagweb": {"ready": True}}:
            raise ProtocolError(f"expected the ready message, got {first!r:.200}")
        if self.kind == "runner" and first.get("action") != "update":
            raise ProtocolError(f"expected the whole body, got {first!r:.200}")
        usable_ns = time.perf_counter_ns() - start
        for attributes in _BUTTON.findall(page):
            found = dict(_ATTR.findall(attributes))
            self.ids[found.get("class", "")] = found["id"]
        value, pid = _VALUE.search(page), _PID.search(page)
        if value is None or pid is None or value.group(1) != "0":
            raise ProtocolError("a new user's page does not show a fresh counter")
        self.pid = int(pid.group(1))
        return Arrival(page_ns, usable_ns)

    async def _page_needs(self, page: str) -> str:
        """Fetch what the page loads before it can connect; return its websocket's path."""
        if self.kind == "runner":
            return "/ws"
        config = _CONFIG.search(page)
        if config is None:
            raise ProtocolError("the page has no htagweb config")
        for script in _SCRIPTS.findall(page):  # a new browser has none of them cached
            await self._get("/" + script)
        settings = json.loads(config.group(1))
        return f"{settings['prefix']}{settings['base']}/_/ws?i={settings['instance']}"

    async def click(self) -> int:
        """Click ``+1``; check the counter in the answer; return the round trip in ns."""
        start = time.perf_counter_ns()
        answer = await self._call("inc")
        elapsed = time.perf_counter_ns() - start
        value = _VALUE.search(_html(answer))
        if value is None or int(value.group(1)) != self.count + 1:
            raise ProtocolError(f"expected {self.count + 1}: {answer!r:.300}")
        self.count += 1
        return elapsed

    async def push_round(self) -> tuple[list[int], int]:
        """Click ``push``; return each push's update() → receipt (ns) and click → last push."""
        start = time.perf_counter_ns()
        await self._call("push")
        latencies: list[int] = []
        while len(latencies) < PUSHES:
            async with deadline(TIMEOUT):
                message = json.loads(await self._connected().recv())
            stamp = _STAMP.search(_html(message))
            if stamp is not None and stamp.group(1) != "0":
                latencies.append(time.time_ns() - int(stamp.group(1)))
        return latencies, time.perf_counter_ns() - start

    async def _call(self, button: str) -> Any:
        """Send a click on `button`; return the message that answers it (pushes skipped)."""
        ws = self._connected()
        self._calls += 1
        callback = f"c{self._calls}"
        data = {"callback_id": callback}
        await ws.send(json.dumps({"id": self.ids[button], "event": "click", "data": data}))
        async with deadline(TIMEOUT):
            while True:
                message = json.loads(await ws.recv())
                payloads = message if isinstance(message, list) else [message]
                if any(p.get("callback_id") == callback for p in payloads):
                    if any(p.get("action") == "error" for p in payloads):
                        raise ProtocolError(f"an error answered the click: {message!r:.300}")
                    return message

    def _connected(self) -> ClientConnection:
        if self.ws is None:
            raise ProtocolError("not connected")
        return self.ws

    async def _get(self, path: str) -> str:
        response = await self.http.get(path)
        if response.status_code != 200:
            raise ProtocolError(f"GET {path}: {response.status_code} {response.text[:200]}")
        return response.text

    async def aclose(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()


def _html(message: Any) -> str:
    payloads = message if isinstance(message, list) else [message]
    return "".join("".join((p.get("updates") or {}).values()) for p in payloads)
