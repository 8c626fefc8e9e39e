"""SessionSync: the session goes to the user process only when it changed, and an App that
does not use its session costs no store read per interaction."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from htagweb_asgi.protocol.frames import Kind
from htagweb_asgi.sessions import core
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.store import MemoryStore, SessionStore, SQLiteStore
from htagweb_asgi.sessions.values import Snapshot
from htagweb_asgi.web.sessionsync import SessionSync

pytestmark = pytest.mark.anyio


class Counting(SessionStore):
    """Wraps a store and counts its loads."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.loads = 0

    def load(self, session_id: str) -> Snapshot:
        self.loads += 1
        return self.inner.load(session_id)

    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        self.inner.save(session_id, changes, max_age)

    def delete(self, session_id: str) -> None:
        self.inner.delete(session_id)

    def rename(self, old_id: str, new_id: str) -> None:
        self.inner.rename(old_id, new_id)

    def cleanup(self) -> int:
        return self.inner.cleanup()

    def stamp(self, session_id: str) -> Any:
        return self.inner.stamp(session_id)


class Recorder:
    """What a channel to the user process was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[Kind, Any]] = []

    async def send_json(self, kind: Kind, obj: Any) -> None:
        self.sent.append((kind, obj))


def in_another_thread(store: SessionStore, changes: dict[str, str | None]) -> None:
    """A write through another connection (another worker, a framework route)."""
    worker = threading.Thread(target=store.save, args=("sid", changes, 60.0))
    worker.start()
    worker.join()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Counting:
    if request.param == "memory":
        return Counting(MemoryStore())
    return Counting(SQLiteStore(os.path.join(tmp_path, "sessions.sqlite3")))


def sync_of(store: SessionStore) -> SessionSync:
    return SessionSync(Sessions(secret_key="k" * 32, store=store), "sid")


async def test_an_unchanged_session_is_read_once(store: Counting) -> None:
    in_another_thread(store, {"a": "1"})
    sync, channel = sync_of(store), Recorder()
    for _ in range(5):
        await sync.send_if_changed(channel)  # type: ignore[arg-type]
    assert store.loads == 1
    assert channel.sent == [(Kind.SESSION, {"a": "1"})]


async def test_a_write_elsewhere_is_sent_at_the_next_interaction(store: Counting) -> None:
    sync, channel = sync_of(store), Recorder()
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    in_another_thread(store, {"a": "2"})
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    assert channel.sent[-1] == (Kind.SESSION, {"a": "2"})


async def test_the_apps_own_write_is_not_sent_back(store: Counting) -> None:
    sync, channel = sync_of(store), Recorder()
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    await sync.save(b'{"n": "1"}')  # CHANGES from the process: stored, and known to it
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    assert channel.sent == [(Kind.SESSION, {})]


async def test_time_alone_renews_the_stamp(
    store: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session expires without any write: the App sees it within STAMP_PERIOD."""
    now = [1000.0]
    monkeypatch.setattr(core, "now", lambda: now[0])
    sync, channel = sync_of(store), Recorder()
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    now[0] += core.STAMP_PERIOD
    await sync.send_if_changed(channel)  # type: ignore[arg-type]
    assert store.loads == 2


async def test_a_store_without_stamps_is_read_every_time() -> None:
    class NoStamp(Counting):
        def stamp(self, session_id: str) -> Any:
            return None

    store = NoStamp(MemoryStore())
    sync, channel = sync_of(store), Recorder()
    for _ in range(3):
        await sync.send_if_changed(channel)  # type: ignore[arg-type]
    assert store.loads == 3
