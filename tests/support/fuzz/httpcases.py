"""HTTP cases: hostile paths and methods, page queries, interaction bodies.

A request that reaches a page carries the page session's cookie, so that the fuzz replaces
one process again and again instead of creating one per request (a flood of new processes
is admission control's business, not this fuzz's).
"""

from __future__ import annotations

import json
import random

from tests.support.fuzz.cases import Context, HttpCase, header_safe, odd
from tests.support.fuzz.payloads import payload
from tests.support.rawwire import request

SEGMENTS = [
    b"",
    b"_",
    b"ws",
    b"post",
    b"client.js",
    b"http",
    b"debug",
    b"parano",
    b"other",
    b"hello.txt",
    b".",
    b"..",
    b"%2e",
    b"%2e%2e",
    b"%2F",
    b"%00",
    b"%ff",
    b"%5f",
    b";x",
    "é".encode(),
    b"\xff",
]
METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE"]
METHODS += [b"CONNECT", b"PROPFIND", b"get", b"G\x00T", b"X" * 300]


def path_cases(rng: random.Random, ctx: Context, count: int) -> list[HttpCase]:
    """Paths made of our own segments and hostile ones, with every method."""
    cases = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.75:
            parts = [rng.choice(SEGMENTS) for _ in range(rng.randint(1, 6))]
            target = b"/" + rng.choice([b"/", b"//", b"/./", b"\\"]).join(parts)
        elif pick < 0.85:
            target = b"/" + odd(rng)
        elif pick < 0.95:
            target = b"/" + b"a/" * rng.choice([100, 2000, 5000])
        else:
            target = rng.choice([b"*", b"", b"abc", b"http://evil/", b"//evil/x", b"/?"])
        method = rng.choice(METHODS) if rng.random() < 0.5 else b"GET"
        headers = [(b"host", ctx.host), (b"connection", b"close"), (b"cookie", ctx.page_cookie)]
        body = b""
        if method in (b"POST", b"PUT", b"PATCH"):
            body = ctx.http_click
            headers.append((b"content-length", b"%d" % len(body)))
        raw = request(method, target.replace(b" ", b"%20"), headers, body)
        cases.append(HttpCase("path", raw))
    return cases


KEYWORDS = [
    "session", "parent", "childs", "tag", "init", "state", "render", "js", "_onload", "__class__",
    "b", "div", "update", "add", "exit", "event", "id", "self", "args", "kwargs", "", "a b", "1",
    "é", "x\ud800", "__dict__", "_", "-", "innerHTML", "statics", "imports", "hr", "_hr",
]  # fmt: skip


def query_cases(rng: random.Random, ctx: Context, count: int) -> list[HttpCase]:
    """Page loads with hostile queries (each may replace the page session's process)."""
    cases = []
    for _ in range(count):
        items = []
        for _ in range(rng.randint(1, 5)):
            key = rng.choice(KEYWORDS).encode("utf-8", "surrogatepass")
            value = odd(rng, 256)
            items.append(rng.choice([key, key + b"=" + value, key + b"=", b"=" + value, value]))
        query = b"&".join(items)
        pick = rng.random()
        if pick < 0.1:
            query = b"a=" + b"x" * (8 * 1024 - 2 + rng.choice([-1, 0, 1]))
        elif pick < 0.15:
            query = b"&".join(b"k%d" % i for i in range(rng.choice([500, 1500])))
        path = rng.choice([b"/", b"/debug", b"/other"])
        headers = [(b"host", ctx.host), (b"connection", b"close"), (b"cookie", ctx.page_cookie)]
        target = path + b"?" + query.replace(b" ", b"+").replace(b"#", b"%23")
        cases.append(HttpCase("query", request(b"GET", header_safe(target), headers)))
    return cases


def body_cases(rng: random.Random, ctx: Context, count: int, limits: list[int]) -> list[HttpCase]:
    """Interaction POSTs of the http_only App: hostile bodies, and hostile instance queries."""
    click = json.loads(ctx.http_click)
    cases = []
    for _ in range(count):
        instance = ctx.http_instance.encode()
        if rng.random() < 0.1:
            instance = rng.choice([b"", b"x", instance.upper(), instance + b"&i=x", odd(rng, 256)])
        body = payload(rng, click, rng.choice(limits))
        headers = [
            (b"host", ctx.host),
            (b"connection", b"close"),
            (b"cookie", ctx.cookie),
            (b"origin", ctx.origin),
            (b"x-htagweb-csrf", ctx.csrf),
            (b"content-type", rng.choice([b"application/json", b"text/plain", b"x/\xff"])),
            (b"content-length", b"%d" % len(body)),
        ]
        target = b"/http/_/post?i=" + header_safe(instance).replace(b" ", b"+")
        cases.append(HttpCase("body", request(b"POST", target, headers, body)))
    return cases
