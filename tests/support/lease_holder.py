"""Another worker, in another process: it takes a lease on the counter App's template and
holds it until killed (or until its stdin closes), as a server worker does.

``python -m tests.support.lease_holder RUNTIME_DIR PORT`` prints the template's listing as
one JSON line once it holds the lease. The registry is make_registry()'s, so it reaches the
template a test's `registry` fixture started for the same port.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.support.pools import COUNTER, make_registry

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0


async def hold(runtime_dir: str, port: int) -> None:
    registry = make_registry(runtime_dir)
    listing = await registry.pool(COUNTER, {"server": ("127.0.0.1", port)}).listing()
    sys.stdout.write(json.dumps(listing) + "\n")
    sys.stdout.flush()
    await anyio.to_thread.run_sync(sys.stdin.readline)  # the test ended without killing us
    await registry.close()


@dataclass
class LeaseHolder:
    process: anyio.abc.Process
    listing: dict[str, Any]  # the template's, once the lease was taken


@asynccontextmanager
async def lease_holder(runtime_dir: str, port: int) -> AsyncIterator[LeaseHolder]:
    """Start a lease holder and wait until it holds its lease; it is gone on exit."""
    command = [sys.executable, "-m", __name__, runtime_dir, str(port)]
    async with await anyio.open_process(command, cwd=ROOT, stderr=None) as process:
        assert process.stdout is not None
        with anyio.fail_after(READY_TIMEOUT):
            line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 1 << 20)
        yield LeaseHolder(process, json.loads(line))
        # leaving: stdin closes, and a holder still alive gives its lease back and ends


if __name__ == "__main__":
    anyio.run(hold, sys.argv[1], int(sys.argv[2]))
