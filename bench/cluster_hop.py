"""What forwarding costs: a click on the node that owns the user's process beside the same
click through the other node (node → owner over the cluster's link), on real servers.

Redis and two nodes (uvicorn, one worker each) on 127.0.0.2 and 127.0.0.3, as
tests/cluster starts them. One user's page is created on node a; one websocket goes to a
(direct), one to b (forwarded: b relays it to a's process over the link), both attached to
the same process. The two click in turn, so the drift of a shared machine touches both
alike; each click is timed from the send to its reply.

    .venv/bin/python -m bench.cluster_hop [--clicks 3000] [--warmup 300]

Needs Debian's redis-server (scripts/test.sh installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.parano_cost import percentile
from tests.support.client import Visitor
from tests.support.cluster import RedisServer, find_binary, new_secret, same_browser, start_nodes


async def measure(clicks: int, warmup: int) -> dict[str, list[float]]:
    directory = Path(tempfile.mkdtemp(prefix="hw-hop-"))
    binary = find_binary("redis-server", "/usr/bin/redis-server")
    assert binary is not None, "needs redis-server (apt-get install redis-server)"
    redis = RedisServer(binary, directory).start()
    nodes = start_nodes(redis, directory, new_secret())
    try:
        a, b = nodes
        async with Visitor(a.url) as on_a:
            page = await on_a.page("/ui/")  # the process is a's
            click = page.click("inc")
            on_b = same_browser(on_a, b)  # the same browser (its cookies) at node b
            async with on_b, on_a.websocket(page) as direct, on_b.websocket(page) as forwarded:
                times: dict[str, list[float]] = {"direct": [], "forwarded": []}
                for index in range(warmup + clicks):
                    for name, ws in (("direct", direct), ("forwarded", forwarded)):
                        start = time.perf_counter()
                        await ws.send(click)
                        while "update" not in json.loads(await ws.recv()):
                            pass  # the other websocket's pushes: none for this App
                        if index >= warmup:
                            times[name].append(time.perf_counter() - start)
                return times
    finally:
        for node in nodes:
            node.stop()
            shutil.rmtree(node.runtime, ignore_errors=True)
        redis.stop()
        shutil.rmtree(directory, ignore_errors=True)


def report(times: dict[str, list[float]]) -> str:
    rows = ["| click | p50 (ms) | p99 (ms) | mean (ms) |", "|---|---:|---:|---:|"]
    for name, samples in times.items():
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        mean = statistics.fmean(samples)
        rows.append(f"| {name} | {p50 * 1e3:.3f} | {p99 * 1e3:.3f} | {mean * 1e3:.3f} |")
    hop = percentile(times["forwarded"], 0.5) - percentile(times["direct"], 0.5)
    rows.append(f"\nforwarding adds {hop * 1e3:.3f} ms per click at the median")
    rows.append(f"({len(times['direct'])} clicks each, {platform.python_version()})")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    print(report(asyncio.run(measure(args.clicks, args.warmup))))


if __name__ == "__main__":
    main()
