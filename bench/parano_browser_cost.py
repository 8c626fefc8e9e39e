"""What parano costs a person: click round trip in headless Chromium, with and without it.

The same server as bench/parano_cost.py; two pages (two users) in Debian's Chromium, one at
``/`` (parano: WebCrypto seals and opens) and one at ``/plain``. In each page a script clicks
the button and waits for the counter to change, again and again; the pages take turns in
batches, so the drift of a shared machine touches both alike. Chromium coarsens
``performance.now()`` (100 µs steps, with jitter, outside cross-origin isolation): the mean,
from the total time of each batch, is exact; p50/p99 are to that step.

    .venv/bin/python bench/parano_browser_cost.py [--clicks 3000] [--batch 100] [--no-deflate]

Chromium always offers permessage-deflate; ``--no-deflate`` makes the server decline it
(uvicorn ``--ws-per-message-deflate false``, what ``--parano`` and ``run()`` choose).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.parano_cost import percentile, start_server, wait_for_cleanup

CHROMIUM = os.environ.get("HTAGWEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update"]

# Click, wait for the reply's update to land in the DOM, n times; return [total, samples...].
CLICKS_JS = """
async (n) => {
  const samples = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const before = document.querySelector(".value").textContent;
    const changed = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        const value = document.querySelector(".value");
        if (value && value.textContent !== before) { observer.disconnect(); resolve(); }
      });
      observer.observe(document.body, {childList: true, subtree: true, characterData: true});
    });
    const t0 = performance.now();
    document.querySelector(".inc").click();
    await changed;
    samples.push(performance.now() - t0);
  }
  return [performance.now() - start, ...samples];
}
"""


def measure(base_url: str, clicks: int, batch: int, warmup: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"plain": [], "parano": []}
    totals = dict.fromkeys(times, 0.0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages: dict[str, Page] = {}
        for name, path in (("plain", "/plain"), ("parano", "/")):
            pages[name] = browser.new_context().new_page()
            pages[name].goto(base_url + path)
            pages[name].evaluate(CLICKS_JS, warmup)  # also waits for the connection
        for _ in range(clicks // batch):
            for name, page in pages.items():
                total, *samples = page.evaluate(CLICKS_JS, batch)
                totals[name] += total
                times[name] += samples
        browser.close()
    times["mean"] = [totals["parano"] / len(times["parano"]), totals["plain"] / len(times["plain"])]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=3000, help="measured clicks per mode")
    parser.add_argument("--batch", type=int, default=100, help="clicks per turn of a page")
    parser.add_argument("--warmup", type=int, default=200, help="clicks per mode not measured")
    parser.add_argument("--no-deflate", action="store_true", help="server declines compression")
    args = parser.parse_args()
    runtime = tempfile.mkdtemp(prefix="hwpb-")
    server, base_url = start_server(runtime, deflate=not args.no_deflate)
    try:
        times = measure(base_url, args.clicks, args.batch, args.warmup)
    finally:
        server.terminate()
        server.wait(15)
        wait_for_cleanup(runtime)
    parano_mean, plain_mean = times.pop("mean")
    compression = "no compression" if args.no_deflate else "permessage-deflate"
    print(f"click round trip in Chromium, {len(times['plain'])} clicks per mode, {compression}")
    print(f"{'':8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, samples in times.items():
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        print(f"{name:8} {p50:8.2f} {p99:8.2f} {statistics.fmean(samples):8.3f}")
    print(f"parano/plain mean: {parano_mean / plain_mean:.3f}")
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ratio = percentile(times["parano"], fraction) / percentile(times["plain"], fraction)
        print(f"parano/plain {label}: {ratio:.3f}")


if __name__ == "__main__":
    main()
