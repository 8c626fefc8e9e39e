"""Draw docs/img/architecture.svg: the processes of htagweb-asgi and the path of a click.

    python3 docs/tools/architecture.py

Plain SVG written by hand (the standard library only), so the drawing is the same on every
machine and the diff of a change stays readable. The numbers on the arrows follow the walk
through the modules in docs/architecture.md.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "img" / "architecture.svg"
WIDTH, HEIGHT = 1120, 720
FONT = "font-family='Helvetica, Arial, sans-serif'"

BROWSER = "#e3f2fd"
WORKER = "#e8f5e9"
PROCESS = "#fff3e0"
FILES = "#f3e5f5"
INK = "#263238"
MUTED = "#546e7a"


def text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = 13,
    bold: bool = False,
    color: str = INK,
    anchor: str = "start",
    mono: bool = False,
) -> str:
    family = "font-family='DejaVu Sans Mono, Menlo, Consolas, monospace'" if mono else FONT
    weight = " font-weight='bold'" if bold else ""
    return (
        f"<text x='{x}' y='{y}' {family} font-size='{size}' fill='{color}'"
        f" text-anchor='{anchor}' xml:space='preserve'{weight}>{escape(content)}</text>"
    )


def box(
    x: float,
    y: float,
    w: float,
    h: float,
    fill: str,
    title: str,
    lines: list[str],
    *,
    dashed: bool = False,
    mono: bool = True,
) -> str:
    """A rounded box with a bold title and lines of text under it."""
    dash = " stroke-dasharray='6 4'" if dashed else ""
    parts = [
        f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='8' fill='{fill}'"
        f" stroke='{MUTED}' stroke-width='1.2'{dash}/>",
        text(x + 10, y + 20, title, bold=True),
    ]
    for n, line in enumerate(lines):
        parts.append(text(x + 10, y + 40 + 17 * n, line, size=12, mono=mono))
    return "\n".join(parts)


def arrow(x1: float, y1: float, x2: float, y2: float, *, both: bool = False) -> str:
    start = " marker-start='url(#head)'" if both else ""
    return (
        f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{INK}' stroke-width='1.6'"
        f" marker-end='url(#head)'{start}/>"
    )


def step(x: float, y: float, number: int) -> str:
    """A numbered disc: the order of the steps of a page load and a click."""
    return f"<circle cx='{x}' cy='{y}' r='10' fill='{INK}'/>" + text(
        x, y + 4.5, str(number), size=12, bold=True, color="#fff", anchor="middle"
    )


def label(x: float, y: float, lines: list[str], anchor: str = "middle") -> str:
    return "\n".join(
        text(x, y + 15 * n, line, size=12, color=MUTED, anchor=anchor)
        for n, line in enumerate(lines)
    )


def legend(x: float, y: float, items: list[str]) -> list[str]:
    parts = []
    for n, item in enumerate(items):
        parts.append(step(x + 10, y + 18 * n - 4, n + 1))
        parts.append(text(x + 28, y + 18 * n, item, size=12))
    return parts


def drawing() -> list[str]:
    parts = [
        # the three places code runs
        box(
            20,
            150,
            190,
            150,
            BROWSER,
            "Browser",
            [
                "the App's page (HTML)",
                "client.js: websocket",
                "or POST, reconnects,",
                "parano (WebCrypto)",
                "cookie htagweb_session",
            ],
            mono=False,
        ),
        box(330, 40, 290, 420, "#fafafa", "Server workers: web/", [], dashed=True),
        text(340, 78, "asyncio or trio (anyio); never import htag", size=12, color=MUTED),
        box(
            345,
            92,
            260,
            220,
            WORKER,
            "worker 1: HtagASGI",
            [
                "web/host.py     the ASGI app",
                "web/routing.py  mount prefix",
                "web/page.py     GET: the page",
                "web/relay.py    the websocket",
                "web/post.py     POST (http_only)",
                "web/pool.py     reach, spawn",
                "sessions/       cookie, store",
                "parano/envelope shapes only",
            ],
        ),
        box(345, 326, 260, 54, WORKER, "worker 2", ["same code, own memory"], mono=False),
        box(345, 392, 260, 54, WORKER, "worker N", ["(gunicorn -w, --workers)"], mono=False),
        box(720, 40, 380, 420, "#fafafa", "App processes: proc/", [], dashed=True),
        text(730, 78, "one template per App and server; no event loop in it", size=12, color=MUTED),
        box(
            735,
            92,
            350,
            128,
            PROCESS,
            "template process",
            [
                "proc/template.py    imports htag + App,",
                "                    gc.freeze()",
                "proc/supervisor.py  selectors loop, leases",
                "proc/requests.py    SPAWN, KILL, LIST",
                "proc/children.py    fork, reap, expire",
            ],
        ),
        box(
            735,
            300,
            110,
            146,
            PROCESS,
            "user process",
            [
                "session A",
                "proc/user.py",
                "proc/htag1.py",
                "htag: the App",
                "asyncio",
            ],
            mono=False,
        ),
        box(
            855,
            300,
            110,
            146,
            PROCESS,
            "user process",
            [
                "session B",
                "proc/user.py",
                "proc/htag1.py",
                "htag: the App",
                "asyncio",
            ],
            mono=False,
        ),
        box(
            975,
            300,
            110,
            146,
            PROCESS,
            "spares",
            [
                "forked ahead,",
                "warmed up,",
                "waiting for",
                "a user's socket",
                "(proc/spares.py)",
            ],
            mono=False,
        ),
        # where they meet
        box(
            330,
            500,
            470,
            96,
            FILES,
            "runtime directory (0700): paths.py",
            [
                "$XDG_RUNTIME_DIR/htagweb-asgi or $TMPDIR/htagweb-asgi-<uid>",
                "  <app dir>/template.sock, template.lock",
                "  <app dir>/<key>.sock   one per user process",
                "  key = HMAC(verified session id, App)",
            ],
        ),
        box(
            820,
            500,
            280,
            96,
            FILES,
            "state directory (0700): paths.py",
            [
                "~/.local/state/htagweb-asgi (or",
                "$HTAGWEB_STATE_DIR, $XDG_STATE_HOME)",
                "  secret_key        (0600)",
                "  sessions.sqlite3  SQLiteStore",
            ],
        ),
        # browser ↔ workers
        arrow(210, 195, 345, 195, both=True),
        step(240, 180, 1),
        label(295, 165, ["GET page", "POST /_/post"]),
        arrow(210, 265, 345, 265, both=True),
        step(240, 250, 5),
        label(295, 245, ["websocket"]),
        label(278, 285, ["/_/ws"]),
        # worker → template
        arrow(605, 130, 735, 130),
        step(635, 115, 2),
        label(690, 108, ["template.sock"]),
        label(670, 150, ["SPAWN, LEASE,", "KILL, LIST"]),
        # template → user processes (fork)
        arrow(790, 220, 790, 300),
        arrow(910, 220, 910, 300),
        arrow(1030, 220, 1030, 300),
        step(810, 255, 3),
        label(855, 264, ["fork"]),
        label(975, 264, ["fork"]),
        # worker ↔ user process
        arrow(605, 280, 735, 330, both=True),
        step(640, 272, 4),
        label(690, 276, ["<key>.sock"]),
        label(670, 345, ["PAGE, ATTACH,", "INTERACT,", "SESSION /", "HTML, REPLY,", "PUSH"]),
        # workers ↔ files
        arrow(475, 460, 475, 500, both=True),
        label(482, 485, ["sockets"], anchor="start"),
        arrow(590, 460, 900, 500),
        label(908, 490, ["sessions, secret key"], anchor="start"),
        # legend: the steps
        *legend(
            20,
            628,
            [
                "a browser asks a worker for the App's page (any worker: they share nothing)",
                "the worker asks the App's template for the process of (session, App)",
                "the template forks it (or hands a spare its socket); it stays for the next loads",
                "the worker sends the process the session and PAGE, and relays the HTML back",
                "the page's websocket: each click goes to that process as INTERACT; its REPLY "
                "and tag.update() PUSHes come back the same way",
            ],
        ),
    ]
    return parts


def write_svg(output: Path, width: int, height: int, parts: list[str]) -> None:
    """Write `parts` as a white `width` x `height` SVG with the arrow-head marker."""
    defs = (
        "<defs><marker id='head' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='8'"
        f" markerHeight='8' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z'"
        f" fill='{INK}'/></marker></defs>"
    )
    svg = "\n".join(
        [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'"
            f" viewBox='0 0 {width} {height}'>",
            defs,
            f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
            *parts,
            "</svg>",
            "",
        ]
    )
    output.write_text(svg, encoding="utf-8")
    print(f"wrote {output}")


def main() -> None:
    write_svg(OUTPUT, WIDTH, HEIGHT, drawing())


if __name__ == "__main__":
    main()
