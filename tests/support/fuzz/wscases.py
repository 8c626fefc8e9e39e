"""Websocket cases: hostile handshakes, and frames of every kind to a live page's socket.

Frames go to the fuzzing session's page: hostile interactions (payloads.py) as text, binary
frames, fragments, control frames, reserved opcodes and bits, invalid UTF-8, sizes around
the host's message limit, close frames with odd codes; parano-looking envelopes to the plain
App and garbage envelopes to the parano one; clients that leave in the middle of a click.
"""

from __future__ import annotations

import json
import random

from tests.support.fuzz.cases import (
    Context,
    Header,
    HttpCase,
    WsCase,
    handshake_safe,
    odd,
)
from tests.support.fuzz.headercases import ORIGINS, cookie_values
from tests.support.fuzz.payloads import envelope_like, payload
from tests.support.rawwire import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, frame, request

HANDSHAKE_PATHS = [
    *(b"/_/ws", b"/http/_/ws", b"/parano/_/ws", b"/nowhere/_/ws", b"/_/ws/", b"/_//ws"),
    *(b"/_/client.js", b"/", b"/_/post", b"/debug/_/ws", b"/%5f/ws", b"/./_/ws"),
]


def _page_headers(ctx: Context) -> list[Header]:
    return [(b"cookie", ctx.cookie), (b"origin", ctx.origin)]


def handshake_cases(rng: random.Random, ctx: Context, count: int) -> list[WsCase | HttpCase]:
    """Handshakes with hostile paths, instances, cookies, origins; and clients that leave
    before the answer."""
    instance = ctx.ws_instance.encode()
    cases: list[WsCase | HttpCase] = []
    for _ in range(count):
        path = rng.choice(HANDSHAKE_PATHS)
        query = rng.choice(
            [
                *(b"i=" + instance, b"", b"i=", b"i=" + instance.upper()),
                *(b"i=" + instance + b"&i=x", b"i=x&i=" + instance, b"j=" + instance),
                *(b"i=" + odd(rng, 1024), odd(rng, 1024)),
            ]
        )
        headers = _page_headers(ctx)
        pick = rng.random()
        if pick < 0.3:
            headers = [(b"cookie", ctx.cookie), (b"origin", rng.choice([*ORIGINS, odd(rng)]))]
        elif pick < 0.6:
            headers = [(b"cookie", cookie_values(rng, ctx)), (b"origin", ctx.origin)]
        elif pick < 0.7:
            headers = [h for h in headers if rng.random() < 0.5]
        elif pick < 0.8:
            name = rng.choice([b"sec-websocket-protocol", b"sec-websocket-extensions"])
            headers.append((name, odd(rng)))
        target = handshake_safe(path + b"?" + query).replace(b" ", b"%20")
        safe = [(name, handshake_safe(value)) for name, value in headers]
        if rng.random() < 0.1:  # the client leaves right after asking
            upgrade = [
                (b"host", ctx.host),
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                (b"sec-websocket-version", b"13"),
            ]
            cases.append(HttpCase("handshake", request(b"GET", target, [*upgrade, *safe]), True))
        else:
            cases.append(WsCase("handshake", target, tuple(safe)))
    return cases


def _frames(rng: random.Random, ctx: Context, limit: int) -> tuple[list[bytes], bool]:
    """One to three hostile frames; and whether they leave the connection serving.

    A text frame that is not UTF-8 ends them: the server ends the connection. uvicorn's
    websockets-sansio says so with a 1007 close, or (when another message is queued before
    it) closes the connection without one: its behaviour, not the host's.
    """
    click = json.loads(ctx.ws_click)
    made: list[bytes] = []
    for _ in range(rng.randint(1, 3)):
        pick = rng.random()
        if pick < 0.55:
            text = payload(rng, click, limit)
            made.append(frame(TEXT, text))
            if not _utf8(text):  # the server ends the connection (1007, or just closes it)
                return made, False
        elif pick < 0.6:
            made.append(frame(BINARY, rng.choice([envelope_like(rng), odd(rng)])))
        elif pick < 0.7:  # a message in fragments, maybe with a control frame between
            text = json.dumps(dict(click, event={"value": "frag"})).encode()
            cut = rng.randint(1, len(text) - 1)
            middle = [frame(PING, b"x")] if rng.random() < 0.5 else []
            made += [frame(TEXT, text[:cut], fin=False), *middle, frame(CONTINUATION, text[cut:])]
        elif pick < 0.78:
            opcode = rng.choice([PING, PONG])
            made.append(frame(opcode, rng.choice([b"", odd(rng, 125)[:125], b"x" * 126])))
        elif pick < 0.84:
            made.append(frame(rng.choice([3, 4, 7, 0xB, 0xF]), odd(rng, 64)))
        elif pick < 0.88:
            made.append(frame(TEXT, json.dumps(click).encode(), rsv=rng.choice([1, 2, 4])))
        elif pick < 0.93:
            made.append(frame(TEXT, rng.choice([b"\xff\xfe", b'{"id": "\xed\xa0\x80"}', b"\xc0"])))
            return made, False
        elif pick < 0.96:
            made.append(frame(CONTINUATION, b"orphan"))
        else:
            code = rng.choice([0, 999, 1000, 1005, 1006, 1011, 3000, 4004, 4999, 65535])
            reason = rng.choice([b"", b"bye", b"\xff", b"x" * 200])
            made.append(frame(CLOSE, code.to_bytes(2, "big") + reason))
            return made, False
    return made, True


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def frame_cases(rng: random.Random, ctx: Context, count: int, limit: int) -> list[WsCase]:
    """Websockets of the fuzzing session's page, each with one to three hostile frames and
    then a probe click (whose reply shows the connection still serves, if it should)."""
    target = f"/_/ws?i={ctx.ws_instance}".encode()
    cases = []
    for _ in range(count):
        frames, serving = _frames(rng, ctx, limit)
        leave = serving and rng.random() < 0.05
        if leave and rng.random() < 0.5:  # leave in the middle of a real click
            left = dict(json.loads(ctx.ws_click), event={"value": "left"})
            frames.append(frame(TEXT, json.dumps(left).encode()))
        cases.append(
            WsCase(
                "frames",
                target,
                tuple(_page_headers(ctx)),
                tuple(frames),
                until="probe" if serving else "end",
                leave=leave,
                inputs=len(frames),
            )
        )
    return cases


def parano_cases(rng: random.Random, ctx: Context, count: int) -> list[WsCase]:
    """The parano App's websocket: garbage envelopes, plaintext, and odd binary frames."""
    target = f"/parano/_/ws?i={ctx.parano_instance}".encode()
    cases = []
    for _ in range(count):
        data = envelope_like(rng) if rng.random() < 0.8 else ctx.ws_click
        opcode = BINARY if rng.random() < 0.85 else TEXT
        cases.append(WsCase("parano", target, tuple(_page_headers(ctx)), (frame(opcode, data),)))
    return cases
