"""Where sessions live: a small interface, an SQLite store (the default) and an in-memory one.

A session is a set of keys, each holding one JSON text. Writes are *per key*: a framework
route and the App writing different keys at the same time never overwrite each other.
Sessions expire ``max_age`` seconds after their last write (sliding), and expired rows are
removed by ``cleanup()``.

An id that ``delete()`` (logout) or ``rename()`` (rotation) ended stays ended: a tombstone
is kept for ENDED_FOR seconds, and a write that was in flight when the session ended (the
App's, a route's) is dropped instead of bringing the session back under the old cookie.

The interface is synchronous and fast (SQLite on a local file); callers that must not block
an event loop run writes in a thread. A Redis store would implement the same five methods.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping

from htagweb_asgi import system
from htagweb_asgi.sessions.values import Snapshot

ENDED_FOR = 14 * 24 * 3600.0  # seconds an ended id is remembered (the default cookie's life)


class SessionStore(ABC):
    """The five operations the host needs.

    Set ``blocking = True`` on a store whose reads wait on a network or an ORM: the host then
    reads it in a thread (writes always go to a thread).
    """

    blocking = False

    @abstractmethod
    def load(self, session_id: str) -> Snapshot:
        """The session's keys (empty for an unknown or expired session)."""

    @abstractmethod
    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        """Set (JSON text) or delete (None) some keys, and push the expiry to now + max_age;
        do nothing for an id that ended (deleted or renamed away)."""

    @abstractmethod
    def delete(self, session_id: str) -> None:
        """Forget the session (logout); its id stays ended."""

    @abstractmethod
    def rename(self, old_id: str, new_id: str) -> None:
        """Move the session's keys to a new id (rotation at login); the old id stays ended."""

    def is_ended(self, session_id: str) -> bool:
        """Whether `session_id` was ended (deleted or renamed away) and must not be used
        again: a request still carrying it gets a new session. Stores that cannot tell
        answer False."""
        return False

    @abstractmethod
    def cleanup(self) -> int:
        """Remove expired sessions; return how many."""

    def stamp(self, session_id: str) -> Hashable | None:
        """A cheap value that changes whenever the session may have changed (None: unknown).

        The host asks before each interaction and skips ``load`` when the stamp is the one
        it saw last: an App that does not use its session then costs no read per click.
        A stamp may change without the session changing (a spurious load), never the
        reverse. Must not block: it is asked on the event loop even for blocking stores.
        """
        return None


class MemoryStore(SessionStore):
    """Sessions in this process's memory: for tests and single-worker servers only (each
    worker would have its own, and a restart forgets them).

    `clock` gives the time expiries are measured with (seconds; tests pass a fake one).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._sessions: dict[str, tuple[float, dict[str, str]]] = {}
        self._ended: dict[str, float] = {}  # id → until when it is remembered
        self._lock = threading.Lock()
        self._clock = clock
        self._writes = 0  # the stamp: every write changes it

    def is_ended(self, session_id: str) -> bool:
        with self._lock:
            return self._ended.get(session_id, 0.0) > self._clock()

    def load(self, session_id: str) -> Snapshot:
        with self._lock:
            expires, data = self._sessions.get(session_id, (0.0, {}))
            return dict(data) if expires > self._clock() else {}

    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        with self._lock:
            if self._ended.get(session_id, 0.0) > self._clock():
                return
            expires, data = self._sessions.get(session_id, (0.0, {}))
            data = dict(data) if expires > self._clock() else {}
            for key, value in changes.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            self._sessions[session_id] = (self._clock() + max_age, data)
            self._writes += 1

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
            self._ended[session_id] = self._clock() + ENDED_FOR
            self._writes += 1

    def rename(self, old_id: str, new_id: str) -> None:
        with self._lock:
            if old_id in self._sessions:
                self._sessions[new_id] = self._sessions.pop(old_id)
            self._ended[old_id] = self._clock() + ENDED_FOR
            self._writes += 1

    def stamp(self, session_id: str) -> Hashable | None:
        return self._writes

    def cleanup(self) -> int:
        now = self._clock()
        with self._lock:
            expired = [sid for sid, (expires, _) in self._sessions.items() if expires <= now]
            for sid in expired:
                del self._sessions[sid]
            self._ended = {sid: until for sid, until in self._ended.items() if until > now}
        return len(expired)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires);
CREATE TABLE IF NOT EXISTS ended (id TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
"""


_ENDED = "SELECT 1 FROM ended WHERE id = ? AND until > ?"
_END = "INSERT OR REPLACE INTO ended (id, until) VALUES (?, ?)"


class SQLiteStore(SessionStore):
    """Sessions in an SQLite file: shared by every worker and process of the machine, kept
    across restarts. WAL mode lets readers work while another process writes.

    `clock` gives the time expiries are measured with: wall-clock seconds, which every
    process sharing the file agrees on (tests pass a fake one).
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()  # one connection per thread (sqlite3's rule)
        self._ready_in: int | None = None  # the pid that checked the file (once per process)
        self._ready_lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():  # never use a connection across fork
            self._prepare_file()
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _prepare_file(self) -> None:
        """Create the file (0600), switch it to WAL and create the tables, once, under a file
        lock: switching the journal mode fails ("database is locked") while another worker
        uses the file, and WAL, once set, stays with the file."""
        with self._ready_lock:
            if self._ready_in == os.getpid():
                return
            fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                system.lock_exclusive(fd)
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
                try:
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                finally:
                    db.close()
            finally:
                os.close(fd)  # releases the lock
            self._ready_in = os.getpid()

    def load(self, session_id: str) -> Snapshot:
        db = self._db()
        row = db.execute("SELECT expires FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None or row[0] <= self._clock():
            return {}
        rows = db.execute("SELECT key, value FROM entries WHERE id = ?", (session_id,))
        return dict(rows.fetchall())

    def is_ended(self, session_id: str) -> bool:
        row = self._db().execute(_ENDED, (session_id, self._clock())).fetchone()
        return row is not None

    def save(self, session_id: str, changes: Mapping[str, str | None], max_age: float) -> None:
        db = self._db()
        now = self._clock()
        with _transaction(db):
            if db.execute(_ENDED, (session_id, now)).fetchone() is not None:
                return  # a write in flight when the session ended: dropped
            row = db.execute("SELECT expires FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is not None and row[0] <= now:  # expired: start it afresh
                db.execute("DELETE FROM entries WHERE id = ?", (session_id,))
            db.execute(
                "INSERT INTO sessions (id, expires) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET expires = excluded.expires",
                (session_id, now + max_age),
            )
            for key, value in changes.items():
                if value is None:
                    db.execute("DELETE FROM entries WHERE id = ? AND key = ?", (session_id, key))
                else:
                    db.execute(
                        "INSERT INTO entries (id, key, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (id, key) DO UPDATE SET value = excluded.value",
                        (session_id, key, value),
                    )

    def delete(self, session_id: str) -> None:
        db = self._db()
        with _transaction(db):
            db.execute("DELETE FROM entries WHERE id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            db.execute(_END, (session_id, self._clock() + ENDED_FOR))

    def rename(self, old_id: str, new_id: str) -> None:
        db = self._db()
        with _transaction(db):
            db.execute("UPDATE sessions SET id = ? WHERE id = ?", (new_id, old_id))
            db.execute("UPDATE entries SET id = ? WHERE id = ?", (new_id, old_id))
            db.execute(_END, (old_id, self._clock() + ENDED_FOR))

    def stamp(self, session_id: str) -> Hashable | None:
        """SQLite's ``data_version``: it changes when another connection (another thread,
        worker or process: every write goes through one) commits to the file; ~4 µs."""
        value: int = self._db().execute("PRAGMA data_version").fetchone()[0]
        return value

    def cleanup(self) -> int:
        db = self._db()
        with _transaction(db):
            now = self._clock()
            db.execute(
                "DELETE FROM entries WHERE id IN (SELECT id FROM sessions WHERE expires <= ?)",
                (now,),
            )
            db.execute("DELETE FROM ended WHERE until <= ?", (now,))
            return db.execute("DELETE FROM sessions WHERE expires <= ?", (now,)).rowcount


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK): take the write lock up front, so two
    writers queue on busy_timeout instead of failing on a lock upgrade."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
