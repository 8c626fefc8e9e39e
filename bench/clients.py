"""Users as a browser would be: a cookie jar, a page, a websocket; one class per protocol.

- ours: GET the page → parse its ``#htagweb-config`` → GET every script it links, one
  after the other on the page's connection (a new user's browser has no cache; a page links
  one bundle since web/static.py makes one) → websocket at
  ``<prefix><base>/_/ws?i=<instance>`` with the session cookie → wait for
  ``{"htagweb": {"ready": true}}``.
- htagweb 1.0.0: GET the page (it creates the user's process) → websocket at
  ``/_/<module.App>`` with its ``session`` cookie; usable once the handshake completes.
- floor (htag's Runner): GET the page (one shared instance) → websocket at the page's path.
  Its hand-written HTTP server keeps every connection as a would-be websocket, so each GET
  uses its own connection.

Every interaction is the JSON the button's ``onclick`` hands to ``interact(...)``, with a
click event like the one ``jevent(event)`` builds in a browser; every reply is an htag
actions dict, and every click reply is checked for the right counter value (see counters.py).
"""

from __future__ import annotations

import html
import json
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.counters import Counter
from bench.timeouts import deadline

TIMEOUT = 15.0  # seconds any one request, handshake or reply may take before it is an error
PUSHES = 3  # pushes per round: bench/apps/counter.py PUSHES
# what jevent(event) sends for a mouse click in a browser (a realistic size and shape)
CLICK_EVENT = {
    "isTrusted": True,
    "type": "click",
    "screenX": 212,
    "screenY": 318,
    "clientX": 52,
    "clientY": 61,
    "ctrlKey": False,
    "shiftKey": False,
    "altKey": False,
    "metaKey": False,
    "button": 0,
    "buttons": 0,
    "pageX": 52,
    "pageY": 61,
    "x": 52,
    "y": 61,
    "offsetX": 14,
    "offsetY": 9,
    "movementX": 0,
    "movementY": 0,
    "detail": 1,
    "which": 1,
    "eventPhase": 2,
    "bubbles": True,
    "cancelable": True,
    "composed": True,
    "timeStamp": 1523.4,
}
_SSL = ssl.create_default_context()  # one for all users: httpx builds one per client otherwise
_CONFIG = re.compile(r'<script id="htagweb-config" type="application/json">(.*?)</script>')
_SCRIPT = re.compile(r'<script src="(\.?/?_/[^"]+\.js\?v=[^"]*)"></script>')
_HTAGWEB_WS = re.compile(r'webroot \+ "_/([\w.]+)"')
_VALUE = re.compile(r'<span class="value"[^>]*>(\d+)</span>')
_PUSHED = re.compile(r'data-t="(\d+)"')
_PID = re.compile(r'<div class="pid"[^>]*>pid=(\d+)</div>')


class ProtocolError(Exception):
    """A page or reply that a real page would not accept (wrong status, value, message)."""


class BadStatus(ProtocolError):
    """A page answered with another status than 200 (the flood's 429 and 503 among them)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PushesMissing(ProtocolError):
    """A push round got its click reply but not all its pushes in time."""


@dataclass(frozen=True)
class Arrival:
    """How long a new user waited: for the page's HTML, and until the page was usable."""

    page_ns: int
    usable_ns: int


@dataclass(frozen=True)
class PushRound:
    """update() → receipt of each push (wall clock, ns), and click → third push."""

    latencies_ns: list[int]
    click_to_last_ns: int


def interaction(page: str, css_class: str) -> str:
    """The message the page's interact() sends when the button with `css_class` is clicked."""
    match = re.search(rf'<button class="{css_class}" onclick="([^"]*)"', page)
    if match is None:
        raise ProtocolError(f"no button .{css_class} in the page")
    call = re.search(r"interact\( (.*) \);", html.unescape(match.group(1)))
    if call is None:
        raise ProtocolError(f"no interact() call in .{css_class}'s onclick")
    message = json.loads(call.group(1).replace("jevent(event)", "null"))
    message["event"] = CLICK_EVENT
    return json.dumps(message, separators=(",", ":"))


def _value_in(page: str) -> int:
    match = _VALUE.search(page)
    if match is None:
        raise ProtocolError("no counter value in the page")
    return int(match.group(1))


class User:
    """One new visitor of `base_url`: arrive(), then click() and push_round(). Its
    connections come from `address` (all of 127.0.0.0/8 is this machine; None: the
    default, 127.0.0.1)."""

    path_of_ws = ""
    keep_alive = True  # may the page's connection be reused (for the client script)?

    def __init__(self, base_url: str, counter: Counter, address: str | None = None) -> None:
        self.base_url = base_url
        self.counter = counter
        self.address = address
        self.count = 0  # the counter value this user last saw
        self.pid: int | None = None  # the pid the page shows (its process, or the server)
        limits = httpx.Limits(max_keepalive_connections=None if self.keep_alive else 0)
        transport = (  # its own transport only when it must: it takes limits and verify too
            httpx.AsyncHTTPTransport(local_address=address, limits=limits, verify=_SSL)
            if address
            else None
        )
        self.http = httpx.AsyncClient(
            base_url=base_url, verify=_SSL, timeout=TIMEOUT, limits=limits, transport=transport
        )
        self.ws: ClientConnection | None = None
        self._inc = ""
        self._push = ""

    async def arrive(self) -> Arrival:
        """Get a usable page as a new user does; return how long it took."""
        start = time.perf_counter_ns()
        page = await self._get(self.page_path())
        page_ns = time.perf_counter_ns() - start
        await self._after_page(page)
        source: dict[str, Any] = {"local_addr": (self.address, 0)} if self.address else {}
        self.ws = await websockets.connect(
            self.base_url.replace("http://", "ws://", 1) + self.path_of_ws,
            additional_headers=self._cookie_header(),
            origin=self.base_url,  # type: ignore[arg-type]  # a browser sends its page's origin
            open_timeout=TIMEOUT,
            ping_interval=None,  # browsers do not ping; the servers do
            max_size=None,
            **source,
        )
        await self._after_connect(self.ws)
        usable_ns = time.perf_counter_ns() - start
        self._inc, self._push = interaction(page, "inc"), interaction(page, "push")
        self.count = _value_in(page)
        self.counter.arrived(self, self.count)
        match = _PID.search(page)
        self.pid = int(match.group(1)) if match else None
        return Arrival(page_ns, usable_ns)

    async def click(self) -> int:
        """Click ``+1``; check the value the reply shows; return the round trip in ns."""
        ws = self._connected()
        start = time.perf_counter_ns()
        await ws.send(self._inc)
        reply = await self._reply(ws)
        elapsed = time.perf_counter_ns() - start
        value = _VALUE.search(_updates(reply))
        if value is None:
            raise ProtocolError(f"a click reply without the counter: {reply!r:.200}")
        self.counter.observe(self, int(value.group(1)))
        return elapsed

    async def push_round(self, wait: float) -> PushRound:
        """Click ``push``; collect the reply and PUSHES pushes (each within `wait` s)."""
        ws = self._connected()
        start = time.perf_counter_ns()
        await ws.send(self._push)
        latencies: list[int] = []
        replied = False
        last = 0
        while not (replied and len(latencies) == PUSHES):
            try:
                async with deadline(wait if replied else TIMEOUT):
                    text = str(await ws.recv())
            except TimeoutError:
                raise PushesMissing(f"{len(latencies)} of {PUSHES} pushes in {wait} s") from None
            received = time.time_ns()
            last = time.perf_counter_ns() - start
            stamp = _PUSHED.search(_updates(_actions(text)))
            if stamp is not None and stamp.group(1) != "0":
                latencies.append(received - int(stamp.group(1)))
            else:
                replied = True
        return PushRound(latencies, last)

    async def aclose(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()

    # -- protocol specifics ---------------------------------------------------------------------
    def page_path(self) -> str:
        return "/"

    async def _after_page(self, page: str) -> None:
        """Learn the websocket path; fetch what the page needs before it can connect."""

    async def _after_connect(self, ws: ClientConnection) -> None:
        """Wait until the page can interact."""

    # -- helpers --------------------------------------------------------------------------------
    async def _get(self, path: str) -> str:
        response = await self.http.get(path)
        if response.status_code != 200:
            message = f"GET {path}: {response.status_code} {response.text[:200]}"
            raise BadStatus(message, response.status_code)
        return response.text

    def _cookie_header(self) -> dict[str, str]:
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        return {"cookie": cookies} if cookies else {}

    def _connected(self) -> ClientConnection:
        if self.ws is None:
            raise ProtocolError("not connected")
        return self.ws

    async def _reply(self, ws: ClientConnection) -> dict[str, Any]:
        """The next message that is not a push (pushes of earlier rounds may still come)."""
        async with deadline(TIMEOUT):
            while True:
                actions = _actions(str(await ws.recv()))
                html = _updates(actions)
                if _PUSHED.search(html) is None or _VALUE.search(html) is not None:
                    return actions


def _actions(text: str) -> dict[str, Any]:
    """An htag actions dict without an error, or ProtocolError."""
    actions = json.loads(text)
    if not isinstance(actions, dict) or "err" in actions or "htagweb" in actions:
        raise ProtocolError(f"unexpected message: {text[:300]}")
    return actions


def _updates(actions: dict[str, Any]) -> str:
    """The HTML an actions dict puts in the page (its ``update`` fragments)."""
    return "".join(actions.get("update", {}).values())


class OurUser(User):
    """A visitor of htagweb-asgi (see the module docstring)."""

    async def _after_page(self, page: str) -> None:
        match = _CONFIG.search(page)
        scripts = _SCRIPT.findall(page)
        if match is None or not scripts:
            raise ProtocolError("the page has no htagweb config or client script")
        config = json.loads(match.group(1))
        for script in scripts:
            await self._get("/" + script.removeprefix("./").lstrip("/"))
        self.path_of_ws = f"{config['prefix']}{config['base']}/_/ws?i={config['instance']}"

    async def _after_connect(self, ws: ClientConnection) -> None:
        async with deadline(TIMEOUT):
            first = json.loads(await ws.recv())
        if first != {"htagweb": {"ready": True}}:
            raise ProtocolError(f"expected the ready message, got {first!r}")


class HtagwebUser(User):
    """A visitor of htagweb 1.0.0 (see the module docstring)."""

    async def _after_page(self, page: str) -> None:
        match = _HTAGWEB_WS.search(page)
        if match is None:
            raise ProtocolError("no htagweb websocket path in the page")
        self.path_of_ws = f"/_/{match.group(1)}"


class FloorUser(User):
    """A visitor of htag's own Runner (see the module docstring)."""

    path_of_ws = "/"
    keep_alive = False


USERS: dict[str, type[User]] = {"ours": OurUser, "htagweb": HtagwebUser, "floor": FloorUser}
