"""A chaos soak: 50 users click (each click writes into the user's session through the App)
while user processes, server workers and the template are SIGKILLed under them.

What must hold: no acknowledged write missing from the store, every user hit clicking
again within one page reload (none at all when only its server worker died: it reconnects
to the same process), no false crash message, no traceback or error of the package.

Longer: HTAGWEB_SOAK_ROUNDS=10 repeats the kills ten times (about 5 minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from pathlib import Path

import anyio
import pytest

from htagweb_asgi.protocol import portable
from htagweb_asgi.sessions.core import Sessions
from tests.support.chaos import Chaos
from tests.support.client import Visitor
from tests.support.fuzz import serverlog
from tests.support.servers import Server, start_server
from tests.support.soak import SoakUser
from tests.support.waiting import eventually_async

pytestmark = pytest.mark.anyio

SEED = 50
# On the portable path (HTAGWEB_PORTABLE=1) each new user process is a fresh interpreter:
# about 0.25 s of CPU where the fork path takes a few milliseconds. The template's kill sends
# every user to a new process at once, and the start gate (proc/startgate.py) starts them one
# per CPU at a time: 50 of them take a loaded two-core machine past the warm-up's and the
# recovery's 60 s. 20 users there exercise the same kills, at a load a CI machine carries.
USERS = 20 if portable.from_environment() else 50
SECRET = "a soaking secret that is long enough"
KILLS = ["process", "worker", "process", "template", "process", "worker", "process"]
EVERY = 4.0  # seconds between two kills: room for the users to come back
ROUNDS = int(os.environ.get("HTAGWEB_SOAK_ROUNDS", "1"))
# The template logs what it sees: the user processes we SIGKILL ourselves.
EXPECTED_WARNINGS = ("was killed by SIGKILL",)


async def test_users_come_back_and_keep_their_writes_through_kills(
    runtime: str, logs: Path
) -> None:
    server = start_server(
        "uvicorn",
        "tests.support.apps.chaos_host:main",
        runtime,
        logs,
        *("--workers", "2", "--log-config", str(serverlog.write_config(logs))),
        env={"HTAGWEB_SECRET_KEY": SECRET},
    )
    users = [SoakUser(Visitor(server.url), n * 1_000_000) for n in range(USERS)]
    chaos = Chaos(
        server, runtime, lambda: [u.page.pid for u in users if u.page], random.Random(SEED)
    )
    try:
        async with contextlib.AsyncExitStack() as visitors:
            for user in users:
                await visitors.enter_async_context(user.visitor)
            await soak(users, chaos)
    finally:
        server.close()
    judge(users, chaos)
    check_the_store(users)
    check_the_log(server)


async def soak(users: list[SoakUser], chaos: Chaos) -> None:
    stop = anyio.Event()
    with anyio.fail_after(120 + 40 * ROUNDS):
        async with anyio.create_task_group() as tasks:
            for n, user in enumerate(users):
                tasks.start_soon(user.run, stop, random.Random(SEED + n))
            await eventually_async(lambda: all(u.acked for u in users), 60, message="warm-up")
            await chaos.run(KILLS * ROUNDS, EVERY)
            last = chaos.log[-1][0]
            await eventually_async(
                lambda: all(u.last_ack > last for u in users), 60, message="not all came back"
            )
            stop.set()


def judge(users: list[SoakUser], chaos: Chaos) -> None:
    wrong = [f"user {n}: {what}" for n, u in enumerate(users) for what in u.wrong]
    assert wrong == [], "\n".join(wrong[:20])
    hits = [hit for user in users for hit in user.recoveries]
    assert all(hit.back is not None for hit in hits)
    slow = [
        hit
        for hit in hits
        if hit.pages > 1 + chaos.events_between(hit.at, hit.back or time.monotonic())
    ]
    assert slow == [], f"users who needed more than one reload per hit: {slow}"
    kinds = {action for _, action, _ in chaos.log}
    assert kinds == {"process", "worker", "template"}, chaos.log
    assert len(hits) >= USERS, "the template's kill ends every user's process"
    reattached = [hit for hit in hits if hit.why == "dropped" and hit.pages == 0]
    assert reattached, "no user was on a killed worker (reconnected to its process)"
    print(  # the figures of this run (pytest -s)
        f"{len(chaos.log)} kills {[action for _, action, _ in chaos.log]}; "
        f"{sum(len(u.acked) for u in users)} clicks acknowledged of {sum(u.sent for u in users)}; "
        f"{len(hits)} hits, {len(reattached)} reconnected to their process, "
        f"{sum(hit.pages for hit in hits)} page reloads"
    )


def check_the_store(users: list[SoakUser]) -> None:
    """Every acknowledged write is in the store; nothing else is there."""
    store = Sessions(secret_key=SECRET).store
    for user in users:
        stored = json.loads(store.load(user.session_id)["clicks"])
        missing = set(user.acked) - set(stored)
        assert not missing, f"acknowledged but not stored: {sorted(missing)[:10]}"
        assert set(stored) <= set(range(user.first_click, user.first_click + user.sent))


def check_the_log(server: Server) -> None:
    ours, _ = serverlog.problems(server.log())
    unexplained = [line for line in ours if not any(w in line for w in EXPECTED_WARNINGS)]
    assert unexplained == [], "\n\n".join(unexplained[:10])
