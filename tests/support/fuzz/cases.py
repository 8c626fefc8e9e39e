"""What a fuzz case is, what the generators know of the server, and the hostile atoms."""

from __future__ import annotations

import random
from dataclasses import dataclass

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class Context:
    """The fuzzing sessions' pages, loaded before the fuzz (one process per App each).

    `cookie` is the session whose processes must stay up the whole fuzz: its websocket and
    POST endpoints are fuzzed, its pages never reloaded. `page_cookie` is the session whose
    page is loaded with hostile queries: its process is replaced again and again (one process,
    not one per request).
    """

    port: int
    cookie: bytes  # b"htagweb_session=..."
    page_cookie: bytes
    ws_instance: str  # the "/" page of `cookie`
    ws_click: bytes  # a click on its "say" button, as the page sends it
    http_instance: str  # the "/http" page (http_only)
    http_click: bytes
    csrf: bytes
    parano_instance: str  # the "/parano" page
    pids: tuple[int, int, int]  # of the "/", "/http" and "/parano" processes of `cookie`

    @property
    def host(self) -> bytes:
        return b"127.0.0.1:%d" % self.port

    @property
    def origin(self) -> bytes:
        return b"http://" + self.host


@dataclass(frozen=True)
class HttpCase:
    """One HTTP request, as bytes; `leave`: the client goes away right after sending."""

    family: str
    raw: bytes
    leave: bool = False
    inputs: int = 1


@dataclass(frozen=True)
class WsCase:
    """A websocket handshake with `headers` (besides the upgrade's own), then `frames`.

    `until` says when the conversation is over: "probe" (a click sent after the frames is
    answered: the connection still serves), "answer" (the first message after the frames, or
    the first at all without frames), "end" (the connection closes: the frames asked it to).
    `leave`: drop the connection right after the frames.
    """

    family: str
    target: bytes
    headers: tuple[Header, ...]
    frames: tuple[bytes, ...] = ()
    until: str = "answer"
    leave: bool = False
    inputs: int = 1

    @property
    def sends_close(self) -> bool:
        """Whether a frame is a close (the server's close frame then echoes our code)."""
        return any(f[0] & 0x0F == 0x8 for f in self.frames)


# -- hostile atoms -----------------------------------------------------------------------------
ODD_BYTES = [
    b"",
    b" ",
    b"\x00",
    b"\x01\x02\x7f",
    b"\xff\xfe",
    b"\x80",
    b"\xed\xa0\x80",  # a UTF-16 surrogate, UTF-8 encoded (invalid UTF-8)
    b"\xc0\xaf",  # an overlong "/"
    "é".encode(),
    "\u202e\u200b".encode(),
    "日本".encode(),
    "\U0001f600".encode(),
    b"%00",
    b"%ff",
    b"%",
    b"%zz",
    b"%ED%A0%80",
    b"%C0%AF",
    b"%252e",
    b"\t",
    b"\\",
    b"'\"<>`",
    b"<script>alert(1)</script>",
    b"${jndi:ldap://x}",
    b"null",
    b"undefined",
    b"[]",
    b"{}",
    b"-1",
    b"0",
    b"99999999999999999999999",
    b"1e309",
    b"NaN",
    b"true",
    b"=",
    b";",
    b",",
    b"..",
    b"../" * 8,
    b"%2e%2e%2f" * 4,
    b"/_/",
    b"\r",
    b"\n",
]
SIZES = [0, 1, 2, 63, 64, 65, 255, 256, 1023, 1024, 4095, 4096, 8191, 8192, 8193, 16385]


def odd(rng: random.Random, size_bound: int = 8193) -> bytes:
    """A hostile value: an atom, a few glued together, random bytes, or a long run."""
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(ODD_BYTES)
    if pick < 0.75:
        return b"".join(rng.choice(ODD_BYTES) for _ in range(rng.randint(2, 6)))
    if pick < 0.9:
        return rng.randbytes(rng.randint(1, 64))
    size = rng.choice([s for s in SIZES if s <= size_bound])
    return (rng.choice(ODD_BYTES) or b"a") * size


def handshake_safe(value: bytes) -> bytes:
    """`value` without ASCII control characters and under 4 KiB. uvicorn's websockets-sansio
    handshake never answers a request with a control character in a header, or a request
    or header line over 8 KiB (0.54: the app is not called, the client waits until it gives
    up): the server's behaviour, not the host's, so the handshakes steer clear of it."""
    return bytes(b for b in value if b >= 0x20 and b != 0x7F)[:4000]


def header_safe(value: bytes) -> bytes:
    """`value` without CR and LF: kept in one header line (a line break makes another header,
    which the `smuggling` cases try on purpose)."""
    return value.replace(b"\r", b"").replace(b"\n", b"")
