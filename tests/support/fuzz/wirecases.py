"""HTTP at the edge of the protocol: bodies that do not match their length, chunked
oddities, smuggling shapes, pipelining, and clients that leave half-way (mid-body, right
after asking for a page)."""

from __future__ import annotations

import random

from tests.support.fuzz.cases import Context, HttpCase, odd
from tests.support.rawwire import request


def wire_cases(rng: random.Random, ctx: Context, count: int) -> list[HttpCase]:
    post = f"/http/_/post?i={ctx.http_instance}".encode()
    body = ctx.http_click
    base = [
        (b"host", ctx.host),
        (b"cookie", ctx.cookie),
        (b"origin", ctx.origin),
        (b"x-htagweb-csrf", ctx.csrf),
    ]
    page = [(b"host", ctx.host), (b"cookie", ctx.page_cookie)]

    def short_body() -> HttpCase:  # announces more than it sends, then leaves
        headers = [*base, (b"content-length", b"%d" % (len(body) + rng.choice([1, 100, 10**6])))]
        cut = rng.randint(0, len(body))
        return HttpCase("wire", request(b"POST", post, headers, body[:cut]), leave=True)

    def long_body() -> HttpCase:  # sends more than it announces (the rest: a next request)
        headers = [*base, (b"content-length", b"%d" % rng.randint(0, len(body) - 1))]
        extra = rng.choice([b"", odd(rng), b"GET /hello.txt HTTP/1.1\r\nhost: x\r\n\r\n"])
        return HttpCase(
            "wire", request(b"POST", post, [*headers, (b"connection", b"close")], body + extra)
        )

    def chunked() -> HttpCase:
        size = rng.choice(
            [b"%x" % len(body), b"zz", b"-1", b"f" * 20, b"%x;ext=1" % len(body), b""]
        )
        chunks = (
            size + b"\r\n" + body + b"\r\n" + rng.choice([b"0\r\n\r\n", b"0\r\nx: y\r\n\r\n", b""])
        )
        headers = [*base, (b"transfer-encoding", b"chunked"), (b"connection", b"close")]
        if rng.random() < 0.3:  # both: a smuggling shape
            headers.append((b"content-length", b"%d" % rng.randint(0, 10)))
        # a chunk size it does not keep (ffff...): the server waits for the rest; we leave
        complete = chunks.endswith(b"\r\n\r\n") and not size.startswith(b"ffff")
        return HttpCase("wire", request(b"POST", post, headers, chunks), leave=not complete)

    def page_then_leave() -> HttpCase:
        return HttpCase("wire", request(b"GET", b"/", page), leave=True)

    def pipelined() -> HttpCase:
        one = request(b"GET", rng.choice([b"/", b"/hello.txt", b"/_/client.js"]), page)
        return HttpCase(
            "wire",
            one * rng.randint(2, 4) + request(b"GET", b"/x", [*page, (b"connection", b"close")]),
        )

    def odd_line() -> HttpCase:
        line = rng.choice(
            [
                b"GET /hello.txt HTTP/1.0\r\nhost: x\r\n\r\n",
                b"GET /hello.txt HTTP/2.0\r\n\r\n",
                b"GET /hello.txt\r\n\r\n",
                b"GET /hello.txt HTTP/1.1\r\nhost: x\r\n folded: y\r\n\r\n",
                b"GET /hello.txt HTTP/1.1\r\nno colon here\r\n\r\n",
                b"GET /hello.txt HTTP/1.1\nhost: x\n\n",
                b"\r\n\r\nGET /hello.txt HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
                b"POST "
                + post
                + b" HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n",
                odd(rng) + b"\r\n\r\n",
            ]
        )
        return HttpCase("wire", line, leave=b"expect" in line)

    makers = [short_body, long_body, chunked, page_then_leave, pipelined, odd_line]
    return [rng.choice(makers)() for _ in range(count)]
