"""What a person does with an App in the browser, once its page is open."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PUSH_TIMEOUT = 10_000  # ms


def counter_session(page: Page) -> None:
    """tests/support/apps/counter.py: a click counts; the push button pushes three updates."""
    expect(page.locator(".value")).to_have_text("0")
    page.click(".inc")
    expect(page.locator(".value")).to_have_text("1")
    page.click(".push")
    expect(page.locator(".pushed")).to_have_text("3", timeout=PUSH_TIMEOUT)
    page.reload()
    expect(page.locator(".value")).to_have_text("1")  # the same process, state kept


def hello_session(page: Page) -> None:
    """examples/hello.py: a click counts; the server pushes its clock every second."""
    expect(page.locator(".count")).to_have_text("0")
    clock = page.locator(".clock").text_content() or ""
    page.click(".increment")
    expect(page.locator(".count")).to_have_text("1")
    expect(page.locator(".clock")).not_to_have_text(clock, timeout=PUSH_TIMEOUT)
    page.reload()
    expect(page.locator(".count")).to_have_text("1")  # the same process, state kept
