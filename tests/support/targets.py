"""User targets with chosen process keys, for tests that drive the pool directly."""

from __future__ import annotations

from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore
from htagweb_asgi.web.pool import ProcessPool
from htagweb_asgi.web.target import UserTarget

SESSIONS = Sessions(secret_key="a test secret that is long enough", store=MemoryStore())


def target(
    pool: ProcessPool, key: str, session_id: str = "test-session", client: str = ""
) -> UserTarget:
    return UserTarget(pool, key, SESSIONS, session_id, client, "tests.support.apps.counter:App")
