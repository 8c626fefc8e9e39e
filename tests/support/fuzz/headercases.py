"""HTTP cases: requests to every kind of route, each with one to three hostile headers
(cookies, Origin, Host, Sec-Fetch-*, the CSRF token, lengths and encodings, odd names).

A request to a page keeps the page session's cookie first (the first of a name wins), so
that it renders that session's one process instead of creating one per request.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.support.fuzz.cases import Context, Header, HttpCase, header_safe, odd
from tests.support.rawwire import request

COOKIE_NAME = b"htagweb_session"
ORIGINS = [
    b"null",
    b"http://[::1",
    b"http://evil@127.0.0.1",
    b"http://127.0.0.1:99999",
    b"http://127.0.0.1:-1",
    b"http://127.0.0.1:0x50",
    b"http://127.0.0.1/path",
    b"http://127.0.0.1?q",
    b"https://127.0.0.1",
    b"file://",
    b"http://",
    b"http://\xff\xfe",
    "http://日本.jp".encode(),
    b"HTTP://127.0.0.1",
    b"http://evil.example",
    b" http://127.0.0.1 ",
    b"*",
]
FORGED = b"A" * 43 + b"." + b"B" * 43


def cookie_values(rng: random.Random, ctx: Context) -> bytes:
    real = ctx.cookie.split(b"=", 1)[1]
    return rng.choice(
        [
            COOKIE_NAME + b"=" + FORGED,
            COOKIE_NAME + b"=" + real[:-1] + b"x",
            COOKIE_NAME + b"=" + real + b"x",
            COOKIE_NAME + b'="' + real + b'"',
            COOKIE_NAME + b"=" + odd(rng),
            b";;;==;" + odd(rng),
            b"=" + odd(rng),
            b"; ".join(b"c%d=%d" % (i, i) for i in range(rng.choice([10, 300]))),
            odd(rng),
        ]
    )


def _mutations(
    rng: random.Random, ctx: Context, page: bool
) -> list[Callable[[list[Header]], None]]:
    def put(name: bytes, value: bytes) -> Callable[[list[Header]], None]:
        return lambda headers: headers.append((name, header_safe(value)))

    def cookie(headers: list[Header]) -> None:
        junk = cookie_values(rng, ctx)
        if page:  # ours first: the first of a name wins, so the page session is kept
            headers.append((b"cookie", header_safe(ctx.page_cookie + b"; " + junk)))
        else:
            headers[:] = [h for h in headers if h[0] != b"cookie"]
            headers.append((b"cookie", header_safe(junk)))

    def host(headers: list[Header]) -> None:
        headers[:] = [h for h in headers if h[0] != b"host"]
        if rng.random() < 0.8:
            headers.append((b"host", header_safe(rng.choice([odd(rng), b"[::1", b"a:b:c"]))))

    def many(headers: list[Header]) -> None:
        headers.extend((b"x-%d" % i, header_safe(odd(rng, 64))) for i in range(rng.randint(2, 120)))

    def weird_name(headers: list[Header]) -> None:
        headers.append((header_safe(odd(rng, 256)).replace(b":", b""), b"1"))

    return [
        cookie,
        host,
        many,
        weird_name,
        lambda h: put(b"origin", rng.choice([*ORIGINS, odd(rng)]))(h),
        lambda h: put(b"sec-fetch-site", rng.choice([b"cross-site", b"same-site", odd(rng)]))(h),
        lambda h: put(rng.choice([b"sec-fetch-mode", b"sec-fetch-dest"]), odd(rng))(h),
        lambda h: put(b"x-htagweb-csrf", rng.choice([ctx.csrf + odd(rng), odd(rng)]))(h),
        lambda h: put(b"content-type", odd(rng))(h),
        lambda h: put(b"if-none-match", odd(rng))(h),
        lambda h: put(b"accept-language", odd(rng))(h),
        lambda h: put(b"content-length", rng.choice([b"-1", b"abc", b"5, 6", b"9" * 30]))(h),
        lambda h: put(b"transfer-encoding", rng.choice([b"gzip", b"chunked, identity", odd(rng)]))(
            h
        ),
    ]


def header_cases(rng: random.Random, ctx: Context, count: int) -> list[HttpCase]:
    """Requests to every kind of route, each with one to three hostile headers."""
    post = f"/http/_/post?i={ctx.http_instance}".encode()
    targets: list[tuple[bytes, bytes, bool]] = [
        (b"GET", b"/_/client.js", False),
        (b"GET", b"/hello.txt", False),
        (b"GET", b"/nowhere", False),
        (b"GET", b"/", True),
        (b"HEAD", b"/http", True),
        (b"GET", b"/debug", True),
        (b"POST", post, False),
        (b"GET", f"/_/ws?i={ctx.ws_instance}".encode(), False),
        (b"POST", b"/_/post", False),
    ]
    cases = []
    for _ in range(count):
        method, target, page = rng.choice(targets)
        headers: list[Header] = [(b"host", ctx.host), (b"connection", b"close")]
        if page:
            headers.append((b"cookie", ctx.page_cookie))
        elif target == post or rng.random() < 0.5:
            headers.append((b"cookie", ctx.cookie))
        body = ctx.http_click if method == b"POST" else b""
        if target == post:
            headers += [(b"origin", ctx.origin), (b"x-htagweb-csrf", ctx.csrf)]
        mutations = _mutations(rng, ctx, page)
        for mutate in rng.sample(mutations, rng.randint(1, 3)):
            mutate(headers)
        if body and not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", b"%d" % len(body)))
        cases.append(HttpCase("header", request(method, target, headers, body)))
    return cases
