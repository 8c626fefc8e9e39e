"""Both stores: per-key writes, expiry, rotation, logout, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from htagweb_asgi.sessions import store as store_module
from htagweb_asgi.sessions.store import MemoryStore, SessionStore, SQLiteStore
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "memory"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[SessionStore]:
    if request.param == "sqlite":
        yield SQLiteStore(str(tmp_path / "s.sqlite3"), clock=clock)
    else:
        yield MemoryStore(clock=clock)


def test_writes_are_per_key(store: SessionStore) -> None:
    store.save("s", {"a": "1", "b": '"x"'}, 60)
    store.save("s", {"b": None, "c": "[1]"}, 60)
    assert store.load("s") == {"a": "1", "c": "[1]"}
    assert store.load("other") == {}


def test_expired_sessions_are_empty_and_cleaned_up(store: SessionStore, clock: FakeClock) -> None:
    """A session lives max_age seconds after its last write, not a moment longer."""
    store.save("old", {"a": "1"}, 10)
    store.save("new", {"a": "2"}, 60)
    clock.advance(9.5)
    assert store.load("old") == {"a": "1"}
    assert store.cleanup() == 0
    clock.advance(0.5)  # exactly max_age after the write
    assert store.load("old") == {}
    assert store.cleanup() == 1
    assert store.load("new") == {"a": "2"}
    store.save("old", {"b": "3"}, 60)  # an expired id starts afresh
    assert store.load("old") == {"b": "3"}


def test_rename_moves_the_keys_and_delete_forgets(store: SessionStore) -> None:
    store.save("before", {"user": '{"name":"alice"}'}, 60)
    store.rename("before", "after")
    assert store.load("before") == {} and store.load("after") == {"user": '{"name":"alice"}'}
    store.delete("after")
    assert store.load("after") == {}


def test_an_ended_id_stays_ended_a_late_write_is_dropped(store: SessionStore) -> None:
    """A write in flight when the session ended (the App's, a route's) cannot bring it back
    under the old cookie."""
    store.save("logged-out", {"user": '"alice"'}, 60)
    store.save("rotated", {"user": '"bob"'}, 60)
    assert not store.is_ended("logged-out")
    store.delete("logged-out")
    store.rename("rotated", "new")
    for ended in ("logged-out", "rotated"):
        store.save(ended, {"late": "1"}, 60)
        assert store.load(ended) == {} and store.is_ended(ended)
    assert store.load("new") == {"user": '"bob"'} and not store.is_ended("new")
    store.cleanup()
    assert store.is_ended("logged-out")  # remembered for ENDED_FOR, not until the next cleanup


def test_tombstones_go_after_their_time(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "ENDED_FOR", 0.0)
    store.delete("gone")
    assert not store.is_ended("gone")
    store.cleanup()
    store.save("gone", {"a": "1"}, 60)  # long after: an id like any other
    assert store.load("gone") == {"a": "1"}


def test_threads_writing_different_keys_lose_nothing(store: SessionStore) -> None:
    def writer(name: str) -> None:
        for n in range(50):
            store.save("shared", {name: str(n)}, 60)

    threads = [threading.Thread(target=writer, args=(f"k{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert store.load("shared") == {f"k{i}": "49" for i in range(4)}


def _process_writer(path: str, name: str) -> None:
    store = SQLiteStore(path)
    for n in range(50):
        store.save("shared", {name: str(n)}, 60)


def test_processes_writing_different_keys_lose_nothing(tmp_path: Path) -> None:
    """Workers and user processes are separate processes sharing one file."""
    path = str(tmp_path / "s.sqlite3")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_process_writer, args=(path, f"p{i}")) for i in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    assert SQLiteStore(path).load("shared") == {f"p{i}": "49" for i in range(4)}


def test_the_database_file_is_private(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    store.save("s", {"a": "1"}, 60)
    assert os.stat(tmp_path / "s.sqlite3").st_mode & 0o077 == 0
