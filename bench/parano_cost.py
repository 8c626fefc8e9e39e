"""What parano costs: click round trip (p50/p99) with and without it, on a real server.

One uvicorn server (one worker) serves the counter App below twice: at ``/`` with
``parano=True``, at ``/plain`` without. A real websocket client does what a page does (for
parano: the X25519 key agreement and AES-256-GCM, with pynacl where the page uses WebCrypto)
and times every click from the send to its reply, both ends' crypto included. A plain and
a parano user click in turn, so the drift of a shared machine touches both alike.

Both with permessage-deflate (what browsers offer and servers accept by default:
ciphertext does not compress, so parano pays for trying) and without it.

The page's AES-256-GCM is libsodium through pynacl (``--client pynacl``, the server's own
code) or OpenSSL through ``cryptography`` (``--client openssl``: native code behind a thin
binding, as WebCrypto is in a browser). The server always uses pynacl.

    .venv/bin/python bench/parano_cost.py [--clicks 6000] [--warmup 300] [--client openssl]
"""

from __future__ import annotations

import argparse
import asyncio
import html.parser
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from htag import Tag

from htagweb_asgi import HtagASGI
from htagweb_asgi.parano.agreement import CipherFactory, PageHandshake, SecureSession
from htagweb_asgi.parano.primitives import AesGcm, DecryptionFailed

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_ENV = "HTAGWEB_PARANO_BENCH_RUNTIME"
# what jevent(event) gives for a click in a browser (a realistic size, ~400 bytes with it)
CLICK_EVENT = {
    "isTrusted": True,
    "type": "click",
    "clientX": 52,
    "clientY": 61,
    "screenX": 212,
    "screenY": 318,
    "button": 0,
    "buttons": 0,
    "detail": 1,
    "altKey": False,
    "ctrlKey": False,
    "metaKey": False,
    "shiftKey": False,
}


class Counter(Tag.body):
    def init(self) -> None:
        self.count = 0
        self.value = Tag.span("0", _class="value")
        self.add(Tag.button("+1", _class="inc", _onclick=self.increment))
        self.add(self.value)

    def increment(self, _: object) -> None:
        self.count += 1
        self.value.clear(str(self.count))


def build() -> HtagASGI:
    """The server's app (``uvicorn --factory bench.parano_cost:build``)."""
    host = HtagASGI("bench.parano_cost:Counter", parano=True, runtime_dir=os.environ[RUNTIME_ENV])
    host.add_app("/plain", "bench.parano_cost:Counter", parano=False)
    return host


class OpenSSLAesGcm:
    """The page's AES-256-GCM through OpenSSL (``cryptography``)."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionFailed("bad tag") from None


CLIENTS: dict[str, CipherFactory] = {"pynacl": AesGcm, "openssl": OpenSSLAesGcm}


class _Button(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.onclick = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("class") == "inc":
            self.onclick = found.get("onclick") or ""


class Page:
    """One user: a cookie, a page, a websocket; sealed when the App is parano."""

    def __init__(
        self, base_url: str, path: str, cipher: CipherFactory = AesGcm, deflate: bool = True
    ) -> None:
        self.base_url = base_url
        self.path = path
        self.cipher = cipher
        self.deflate = deflate
        self.session: SecureSession | None = None
        self.count = 0

    async def open(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            response = await http.get(self.path)
            response.raise_for_status()
            cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
        found = re.search(
            r'id="htagweb-config" type="application/json">(.*?)</script>', response.text
        )
        assert found, "no htagweb config in the page"
        config = json.loads(found.group(1))
        button = _Button()
        button.feed(response.text)
        call = re.search(r"interact\( (.*) \);", button.onclick)
        assert call, "no interaction on the button"
        self.click_message = call.group(1).replace("jevent(event)", json.dumps(CLICK_EVENT))
        url = self.base_url.replace("http", "ws") + config["prefix"] + config["base"]
        self.ws = await websockets.connect(
            f"{url}/_/ws?i={config['instance']}",
            additional_headers={"cookie": cookie},
            origin=self.base_url,  # type: ignore[arg-type]
            compression="deflate" if self.deflate else None,
        )
        assert json.loads(await self.ws.recv()) == {"htagweb": {"ready": True}}
        if config.get("parano"):
            handshake = PageHandshake()
            await self.ws.send(handshake.hello)
            welcome = await self._bytes()
            self.session = handshake.complete(welcome, strict=True, cipher=self.cipher)

    async def _bytes(self) -> bytes:
        message = await self.ws.recv()
        assert isinstance(message, bytes), f"a message in clear: {message!r}"
        return message

    async def click(self) -> float:
        """One click; return its round trip in seconds (the reply is checked)."""
        start = time.perf_counter()
        if self.session is None:
            await self.ws.send(self.click_message)
            reply: dict[str, Any] = json.loads(await self.ws.recv())
        else:
            await self.ws.send(self.session.seal(self.click_message.encode()))
            reply = json.loads(self.session.open(await self._bytes()))
        elapsed = time.perf_counter() - start
        self.count += 1
        assert f">{self.count}</span>" in next(iter(reply["update"].values())), reply
        return elapsed


def start_server(runtime: str, deflate: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn, one worker, on an ephemeral loopback port it inherits already listening;
    `deflate`: whether it accepts permessage-deflate when a client offers it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.parano_cost:build"]
    command += ["--fd", str(sock.fileno()), "--log-level", "warning"]
    command += ["--ws-per-message-deflate", str(deflate).lower()]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{RUNTIME_ENV: runtime})
    server = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=(sock.fileno(),))
    sock.close()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # bounded wait for the server to answer
        try:
            if httpx.get(base_url + "/plain", timeout=2).status_code == 200:
                return server, base_url
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.05)


def wait_for_cleanup(runtime: str, timeout: float = 15.0) -> None:
    """The App templates stop their processes and remove their directories once the server
    is gone; remove the runtime directory after them (bounded wait)."""
    deadline = time.monotonic() + timeout
    while any(Path(runtime).iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(runtime, ignore_errors=True)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(
    base_url: str, clicks: int, warmup: int, cipher: CipherFactory, deflate: bool
) -> dict[str, list[float]]:
    """Two users, one per mode, clicking in turn: one click each, again and again, so that
    whatever else the machine does falls on both alike."""
    pages = {
        "plain": Page(base_url, "/plain", deflate=deflate),
        "parano": Page(base_url, "/", cipher, deflate),
    }
    times: dict[str, list[float]] = {name: [] for name in pages}
    for page in pages.values():
        await page.open()
    for n in range(warmup + clicks):
        for name, page in pages.items():
            elapsed = await page.click()
            if n >= warmup:
                times[name].append(elapsed)
    for page in pages.values():
        await page.ws.close()
    return times


def crypto_cost(message: bytes, cipher: CipherFactory, repeat: int = 2000) -> float:
    """Microseconds for the page to seal a click and the process (pynacl) to open it."""
    handshake = PageHandshake()
    from htagweb_asgi.parano.agreement import accept

    process, welcome = accept(handshake.hello, strict=True)
    page = handshake.complete(welcome, strict=True, cipher=cipher)
    start = time.perf_counter()
    for _ in range(repeat):
        process.open(page.seal(message))
    return (time.perf_counter() - start) / repeat * 1e6


def report(times: dict[str, list[float]], title: str) -> None:
    print(f"\nclick round trip, {len(times['plain'])} clicks per mode, {title}")
    print(f"{'':8} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, samples in times.items():
        p50, p99 = percentile(samples, 0.5) * 1e3, percentile(samples, 0.99) * 1e3
        print(f"{name:8} {p50:8.3f} {p99:8.3f} {statistics.fmean(samples) * 1e3:8.3f}")
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        ratio = percentile(times["parano"], fraction) / percentile(times["plain"], fraction)
        print(f"parano/plain {label}: {ratio:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=6000, help="measured clicks per mode")
    parser.add_argument("--warmup", type=int, default=300, help="clicks per mode not measured")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="pynacl", help="page's AES")
    args = parser.parse_args()
    cipher = CLIENTS[args.client]
    runtime = tempfile.mkdtemp(prefix="hwpb-")
    server, base_url = start_server(runtime)
    results = {}
    try:
        for deflate in (True, False):
            measured = measure(base_url, args.clicks, args.warmup, cipher, deflate)
            results[deflate] = asyncio.run(measured)
    finally:
        server.terminate()
        server.wait(15)
        wait_for_cleanup(runtime)
    for deflate, times in results.items():
        compression = "permessage-deflate" if deflate else "no compression"
        report(times, f"uvicorn (1 worker), {compression}, {args.client} page")
    click = json.dumps({"id": 1, "method": "__on__", "args": ["onclick"], "event": CLICK_EVENT})
    cost = crypto_cost(click.encode(), cipher)
    print(f"a click sealed by the page ({args.client}) and opened by the process: {cost:.1f} µs")


if __name__ == "__main__":
    main()
