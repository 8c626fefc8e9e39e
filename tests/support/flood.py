"""An anonymous flood and a watch on the processes it costs, run in a thread beside a test.

The flood: `concurrency` clients sending cookie-less GETs of a page as fast as the server
answers, from one loopback address (all of 127.0.0.0/8 is this machine). The watch:
the template's own table (``LIST``), every `interval` seconds: live user processes, and
those whose page never attached (the flood's: a browser's page attaches within
milliseconds).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from htagweb_asgi.protocol import control


@dataclass
class Sample:
    at: float  # time.monotonic()
    live: int
    never_attached: int


@dataclass
class Flood:
    """The flood's statuses and the processes seen while it ran (and after)."""

    url: str
    runtime: str
    address: str = "127.0.0.2"
    concurrency: int = 20
    interval: float = 0.5
    statuses: Counter[int | str] = field(default_factory=Counter)
    samples: list[Sample] = field(default_factory=list)
    stopped_at: float | None = None
    _stop_flood: threading.Event = field(default_factory=threading.Event)
    _stop_watch: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Flood:
        for work in (self._flood, self._watch):
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop_flood(self) -> None:
        self._stop_flood.set()
        self._threads[0].join(30)
        self.stopped_at = time.monotonic()

    def stop(self) -> None:
        self._stop_flood.set()
        self._stop_watch.set()
        for thread in self._threads:
            thread.join(30)

    @property
    def peak_live(self) -> int:
        return max((s.live for s in self.samples), default=0)

    @property
    def peak_flood(self) -> int:
        return max((s.never_attached for s in self.samples), default=0)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    # -- the threads ------------------------------------------------------------------------------
    def _flood(self) -> None:
        asyncio.run(self._flood_async())

    async def _flood_async(self) -> None:
        await asyncio.gather(*(self._one_client() for _ in range(self.concurrency)))

    async def _one_client(self) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=self.address)
        async with httpx.AsyncClient(transport=transport, timeout=30) as client:
            while not self._stop_flood.is_set():
                client.cookies.clear()  # no cookie: each request is a new visitor
                try:
                    response = await client.get(self.url)
                    self.statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    self.statuses[type(exc).__name__] += 1

    def _watch(self) -> None:
        while not self._stop_watch.is_set():
            try:
                templates = control.listings(self.runtime, memory=False)
            except OSError:
                templates = []
            processes = [p for template in templates for p in template["processes"]]
            never = sum(1 for p in processes if not p.get("attached"))
            self.samples.append(Sample(time.monotonic(), len(processes), never))
            self._stop_watch.wait(self.interval)
