"""Draw docs/img/cluster.svg: a cluster of nodes behind a balancer, coordinated by Redis.

    python3 docs/tools/cluster.py

The same hand-written SVG as docs/tools/architecture.py (whose helpers it uses), so the
drawing is the same on every machine and the diff of a change stays readable.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from architecture import (
    BROWSER,
    FILES,
    INK,
    PROCESS,
    WORKER,
    arrow,
    box,
    label,
    text,
    write_svg,
)

OUTPUT = Path(__file__).resolve().parents[1] / "img" / "cluster.svg"
WIDTH, HEIGHT = 1120, 640
BALANCER = "#eceff1"


def node(x: float, name: str, address: str) -> list[str]:
    return [
        box(x, 170, 400, 250, "#fafafa", f"node {name}  ({address})", [], dashed=True),
        box(
            x + 15,
            210,
            180,
            120,
            WORKER,
            "server workers",
            ["HtagASGI", "cluster/: heartbeat,", "messages, link", "(any worker)"],
            mono=False,
        ),
        box(
            x + 215,
            210,
            170,
            120,
            PROCESS,
            "template + users",
            ["one process per", "(session, App)", "owned by this node", "App state: here only"],
            mono=False,
        ),
        arrow(x + 195, 270, x + 215, 270, both=True),
        box(x + 15, 345, 370, 60, WORKER, "link :9100 (internal)", ["HMAC proof both ways"]),
    ]


def drawing() -> list[str]:
    parts = [
        box(430, 14, 260, 62, BROWSER, "browsers", ["cookies: session, node"], mono=False),
        arrow(560, 76, 560, 100),
        box(
            330,
            100,
            460,
            52,
            BALANCER,
            "balancer: nginx / HAProxy / Traefik (affinity optional)",
            [],
            mono=False,
        ),
        label(560, 138, ["routes on the node cookie, or round robin"]),
        arrow(450, 152, 230, 170),
        arrow(670, 152, 890, 170),
        *node(30, "a", "node-a.internal"),
        *node(690, "b", "node-b.internal"),
        # the link between the nodes: a request on the wrong node reaches the owner's process
        arrow(430, 375, 690, 375, both=True),
        label(560, 360, ["forwarded frames"]),
        label(560, 395, ["(page, websocket, POST)"]),
        box(
            330,
            460,
            460,
            130,
            FILES,
            "Redis (one primary, with replicas or Sentinel)",
            [
                "<p>:s:<session>    sessions, TTL = max_age",
                "<p>:owner:<key>    which node owns a process",
                "<p>:node:<name>    live nodes (heartbeat, TTL)",
                "<p>:live           the cluster-wide cap",
                "<p>:control        pub/sub: end a session, kill",
                "<p>:ended:<tag>    tombstones of ended sessions",
            ],
        ),
        arrow(230, 420, 420, 460, both=True),
        arrow(890, 420, 700, 460, both=True),
        text(
            20,
            620,
            "Never in Redis: App state. A dead node loses its users' Apps, never their sessions.",
            size=12,
            color=INK,
        ),
    ]
    return parts


def main() -> None:
    write_svg(OUTPUT, WIDTH, HEIGHT, drawing())


if __name__ == "__main__":
    main()
