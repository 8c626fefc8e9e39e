"""Headless Debian Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("HTAGWEB_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling home, which this closed
# network refuses; the others make a quiet, reproducible headless browser.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
