"""Take docs/img/hello.png: examples/hello.py in Chromium, as two visitors see it.

    .venv/bin/python docs/tools/screenshot.py

It serves examples/hello.py on 127.0.0.1:8000 (another port if that one is taken; private
runtime and state directories, removed afterwards), opens the page in two browser contexts
(two visitors, so two sessions and two user processes), clicks +1 three times in the first
and once in the second, waits for a clock push in both, and puts the two screenshots side by
side, each under a plain address bar showing the URL it was taken at. The browser is Debian's
Chromium (/usr/bin/chromium, or $HTAGWEB_CHROMIUM) driven by Playwright: none is downloaded.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "img" / "hello.png"
CHROMIUM = os.environ.get("HTAGWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 460, "height": 240}


def choose_port() -> int:
    """8000, the port the docs show, when it is free; else any free port."""
    for wanted in (8000, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", wanted))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise SystemExit("no free port on 127.0.0.1")


def serve_hello(port: int, scratch: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        HOST="127.0.0.1",
        PORT=str(port),
        XDG_RUNTIME_DIR=os.path.join(scratch, "run"),
        HTAGWEB_STATE_DIR=os.path.join(scratch, "state"),
    )
    os.mkdir(env["XDG_RUNTIME_DIR"], 0o700)
    command = [sys.executable, "examples/hello.py"]
    quiet = subprocess.DEVNULL
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=quiet, stderr=quiet)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return server
        except OSError:
            time.sleep(0.1)  # the server is still starting
    server.kill()
    raise SystemExit("examples/hello.py did not answer within 30 s")


def visit(browser: Browser, url: str, clicks: int) -> bytes:
    """One visitor: open the page, click, wait for a push, return a screenshot."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("!document.body.classList.contains('htagoff')")
    for count in range(1, clicks + 1):
        page.click("button.increment")
        page.wait_for_function(f"document.querySelector('.count').textContent === '{count}'")
    clock = page.inner_text(".clock")
    page.wait_for_function(f"document.querySelector('.clock').textContent !== '{clock}'")
    shot = page.screenshot()
    context.close()
    return shot


def framed(shot: bytes, url: str, label: str) -> str:
    data = base64.b64encode(shot).decode()
    return (
        f"<figure><figcaption>{html.escape(label)}</figcaption>"
        f'<div class="window"><div class="bar"><span class="url">{html.escape(url)}</span></div>'
        f'<img src="data:image/png;base64,{data}"></div></figure>'
    )


STYLE = """
body { margin: 0; padding: 16px; background: #fff; font: 14px sans-serif;
       display: inline-flex; gap: 20px; }
figure { margin: 0; }
figcaption { color: #444; margin: 0 0 6px 2px; }
.window { border: 1px solid #bbb; border-radius: 8px; overflow: hidden; }
.bar { background: #eceff1; padding: 7px 10px; border-bottom: 1px solid #ccc; }
.url { display: block; background: #fff; border-radius: 12px; padding: 3px 12px; color: #333; }
img { display: block; }
"""


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="hw-shot-")
    port = choose_port()
    url = f"http://127.0.0.1:{port}/"
    server = serve_hello(port, scratch)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            first = visit(browser, url, clicks=3)
            second = visit(browser, url, clicks=1)
            page = browser.new_page(viewport={"width": 1000, "height": 400})
            visitors = framed(first, url, "Visitor 1") + framed(second, url, "Visitor 2")
            page.set_content(f"<style>{STYLE}</style>{visitors}")
            page.locator("body").screenshot(path=str(OUTPUT))
            browser.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
