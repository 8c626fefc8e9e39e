"""Anonymous traffic never locks real users out (at default settings): while one loopback
address floods the page with cookie-less GETs (20 at a time), a new browser arrives every
5 s from another address, loads the page and clicks, and a user who had clicked before
keeps clicking. Every newcomer and every click works, the engaged user keeps their process,
the flood's processes fall to 10 % of their peak after it stops, and the server never
holds more than 200 user processes.

CI runs it for 20 s of flood and allows 45 s for the reclaim (never-attached processes end
after 30 s by default); the check as specified (60 s of flood, 90 s to fall) is
``bash bench/flood_check.sh``, the same test with HTAGWEB_FLOOD_SECONDS=60 and
HTAGWEB_FLOOD_RECLAIM=90.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.flood import Flood
from tests.support.servers import Server, start_server

pytestmark = pytest.mark.browser

FLOOD_SECONDS = float(os.environ.get("HTAGWEB_FLOOD_SECONDS", "20"))
RECLAIM_SECONDS = float(os.environ.get("HTAGWEB_FLOOD_RECLAIM", "45"))
ARRIVAL_EVERY = 5.0
MAX_LIVE = 200
TIMEOUT_MS = 30_000  # two shared cores, a flood, a browser: generous, never hit when it works


@pytest.fixture(scope="module")
def served(runtime: str, logs: Path) -> Iterator[Server]:
    server = start_server("uvicorn-2", "tests.support.apps.hosts:admission_defaults", runtime, logs)
    yield server
    server.close()


def click_and_see(page: Page, count: int) -> None:
    page.click(".inc")
    expect(page.locator(".value")).to_have_text(str(count), timeout=TIMEOUT_MS)


def newcomer(browser: Browser, url: str) -> str:
    """A new browser: loads the page, clicks; returns its process id."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        response = page.goto(url)
        assert response is not None and response.status == 200, response
        click_and_see(page, 1)
        return page.locator(".pid").inner_text()
    finally:
        context.close()


def test_a_flood_from_one_address_locks_nobody_out(
    served: Server, runtime: str, browser: Browser
) -> None:
    engaged_context = browser.new_context()
    engaged = engaged_context.new_page()
    engaged.set_default_timeout(TIMEOUT_MS)
    engaged.goto(served.url + "/")
    click_and_see(engaged, 1)
    engaged_pid = engaged.locator(".pid").inner_text()
    clicks = 1
    flood = Flood(served.url + "/", runtime).start()
    newcomers: list[str] = []
    try:
        started = time.monotonic()
        next_arrival = started
        while time.monotonic() - started < FLOOD_SECONDS:
            if time.monotonic() >= next_arrival:
                newcomers.append(newcomer(browser, served.url + "/"))
                next_arrival += ARRIVAL_EVERY
            clicks += 1
            click_and_see(engaged, clicks)
            engaged.wait_for_timeout(500)  # a person's pace between two clicks
        flood.stop_flood()
        assert flood.statuses[200] > 0 and flood.statuses[429] > 0, flood.statuses
        assert set(flood.statuses) <= {200, 429}, flood.statuses  # nothing failed
        peak = flood.peak_flood
        stopped_at = flood.stopped_at or time.monotonic()
        deadline = time.monotonic() + RECLAIM_SECONDS
        while time.monotonic() < deadline and not reclaimed(flood, peak, stopped_at):
            clicks += 1
            click_and_see(engaged, clicks)  # and the engaged user goes on clicking
            engaged.wait_for_timeout(500)
        assert reclaimed(flood, peak, stopped_at), (
            f"the flood's processes did not fall from {peak} within {RECLAIM_SECONDS} s: "
            f"{flood.latest()}"
        )
        engaged.reload()  # the same process, with every click counted
        expect(engaged.locator(".value")).to_have_text(str(clicks))
        assert engaged.locator(".pid").inner_text() == engaged_pid
        report(flood, newcomers=len(newcomers), clicks=clicks, fell_after=time.monotonic())
    finally:
        flood.stop()
        engaged_context.close()
    assert len(newcomers) >= FLOOD_SECONDS // ARRIVAL_EVERY
    assert 0 < flood.peak_live <= MAX_LIVE, flood.peak_live
    assert peak >= 10  # the flood did cost processes: the test measured something


def report(flood: Flood, newcomers: int, clicks: int, fell_after: float) -> None:
    """What the run saw, as JSON in $HTAGWEB_FLOOD_REPORT (bench/flood_check.sh prints it)."""
    path = os.environ.get("HTAGWEB_FLOOD_REPORT")
    if not path:
        return
    figures = {
        "flood_seconds": FLOOD_SECONDS,
        "statuses": {str(k): v for k, v in flood.statuses.items()},
        "peak_live_processes": flood.peak_live,
        "peak_flood_processes": flood.peak_flood,
        "fell_to_10pct_after_s": round(fell_after - (flood.stopped_at or fell_after), 1),
        "newcomers": newcomers,
        "engaged_clicks": clicks,
    }
    Path(path).write_text(json.dumps(figures, indent=1))


def reclaimed(flood: Flood, peak: int, stopped_at: float) -> bool:
    """The flood's processes (never attached) are down to 10 % of their peak, as sampled
    after the flood stopped."""
    latest = flood.latest()
    return latest is not None and latest.at > stopped_at and latest.never_attached <= peak // 10
