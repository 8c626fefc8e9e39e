"""Sessions: the cookie, the store and what ends a session, shared by HtagASGI and
SessionMiddleware so that a framework route and an htag App see one session.

Give the same Sessions to both (or let both use the defaults, which agree):

    sessions = Sessions()
    app = FastAPI()
    app.add_middleware(SessionMiddleware, sessions=sessions)
    app.mount("/ui", HtagASGI(App, sessions=sessions))
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import anyio

from htagweb_asgi import paths
from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol import control
from htagweb_asgi.sessions.cookie import Signer, build_set_cookie, parse_cookies, resolve_secret
from htagweb_asgi.sessions.store import SessionStore, SQLiteStore
from htagweb_asgi.sessions.values import DEFAULT_MAX_SIZE, Snapshot

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 14 * 24 * 3600
HOST_PREFIX = "__Host-"  # RFC 6265bis: Secure, Path=/, no Domain: this host only
ROTATION_TOKEN_LIFE = 120.0  # seconds a page has to fetch its new cookie after a rotation
CLEANUP_EVERY = 600.0  # seconds between two removals of expired sessions, per worker
STAMP_PERIOD = 60.0  # a stamp lasts this long at most: an expiry is seen within it
now = time.time  # the wall clock of expiries (tests replace it)


class SessionEnder(Protocol):
    """Ends sessions' processes on the other nodes of a cluster (cluster/bus.py)."""

    def end_sessions(self, tags: Iterable[str], tombstone_seconds: float) -> None: ...


class Sessions:
    """Session cookies and their store.

    - secret_key: signs cookies (else ``$HTAGWEB_SECRET_KEY``, else a key generated once in
      the state directory, mode 0600).
    - store: a SessionStore (default: SQLite in the state directory, shared by all workers,
      kept across restarts; a RedisStore when ``$HTAGWEB_REDIS_URL`` is set, for a
      cluster; MemoryStore for single-process tests).
    - state_dir: where the key and the database live (default ``$HTAGWEB_STATE_DIR``, else
      ``$XDG_STATE_HOME/htagweb-asgi``, else ``~/.local/state/htagweb-asgi``).
    - cookie_name, max_age (seconds, sliding), secure (None: when the request is https),
      same_site; path: the cookie's Path (None: "/" under the middleware, the mount prefix
      for a standalone HtagASGI). A name starting with ``__Host-`` (e.g.
      ``"__Host-htagweb_session"``) asks browsers to keep the cookie to this very host, https
      only: the cookie is then always ``Secure`` with ``Path=/`` (a site served over plain
      http, localhost aside, cannot keep it).
    - max_size: bytes of JSON a session may hold.
    - runtime_dir: where the user processes to end at logout are (HtagASGI's runtime_dir).
    """

    def __init__(
        self,
        *,
        secret_key: str | bytes | None = None,
        store: SessionStore | None = None,
        state_dir: str | None = None,
        cookie_name: str = "htagweb_session",
        max_age: float = DEFAULT_MAX_AGE,
        secure: bool | None = None,
        same_site: str = "Lax",
        path: str | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        runtime_dir: str | None = None,
    ) -> None:
        if cookie_name.startswith(HOST_PREFIX):
            if secure is False or path not in (None, "/"):
                raise ValueError(f"a {HOST_PREFIX} cookie is always Secure, with Path=/")
            secure, path = True, "/"
        self._secret_key = secret_key
        self._store = store
        self._state_dir = state_dir
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.secure = secure
        self.same_site = same_site
        self.path = path
        self.max_size = max_size
        self.runtime_dir = runtime_dir
        self._signer: Signer | None = None
        self._last_cleanup = 0.0
        self.cluster: SessionEnder | None = None  # set by HtagASGI on a cluster's node

    # -- lazily, at first use (nothing at import or construction time) -----------------------
    @property
    def state_dir(self) -> str:
        """Where the generated key and the default store live (created, private, on use)."""
        directory = self._state_dir or paths.default_state_dir()
        paths.ensure_state_dir(directory)
        return directory

    @property
    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = Signer(resolve_secret(self._secret_key, self.state_dir))
        return self._signer

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            redis_url = os.environ.get("HTAGWEB_REDIS_URL")
            if redis_url:
                from htagweb_asgi.sessions.redisstore import RedisStore

                self._store = RedisStore(redis_url)
            else:
                self._store = SQLiteStore(os.path.join(self.state_dir, "sessions.sqlite3"))
        return self._store

    @property
    def store_given(self) -> bool:
        """Whether the store is chosen already (given, or made by a first use)."""
        return self._store is not None

    def use_store(self, store: SessionStore) -> None:
        """Set the store before first use (HtagASGI does, for a cluster's node)."""
        self._store = store

    def check(self) -> None:
        """Use the secret key and read the store once: raises what would fail every request
        (an unwritable state directory, a store that cannot be opened or reached)."""
        self.signer  # noqa: B018
        self.store.load("startup-check")

    # -- cookies -------------------------------------------------------------------------------
    def session_id(self, scope: Mapping[str, Any]) -> str | None:
        """The verified session id of the request's cookie, or None (missing or forged)."""
        value = parse_cookies(scope.get("headers") or ()).get(self.cookie_name)
        session_id = self.signer.unsign(value)
        if session_id is None and value is not None:
            logger.info("ignored a session cookie with a bad signature or shape")
        return session_id

    def new_id(self) -> str:
        return self.signer.new_session_id()

    def set_cookie(self, session_id: str, scope: Mapping[str, Any], path: str) -> bytes:
        return self._cookie(self.signer.sign(session_id), int(self.max_age), scope, path)

    def clear_cookie(self, scope: Mapping[str, Any], path: str) -> bytes:
        return self._cookie("", 0, scope, path)

    def _cookie(self, value: str, max_age: int, scope: Mapping[str, Any], path: str) -> bytes:
        secure = self.secure if self.secure is not None else scope.get("scheme") in ("https", "wss")
        return build_set_cookie(
            self.cookie_name,
            value,
            path=self.path if self.path is not None else path or "/",
            secure=secure,
            max_age=max_age,
            same_site=self.same_site,
        )

    # -- derived secrets ----------------------------------------------------------------------
    def process_key(self, session_id: str, app: str) -> str:
        return self.signer.process_key(session_id, app)

    def tag(self, session_id: str) -> str:
        """Names a session to the templates (to end its processes) without revealing it."""
        return self.signer.process_key(session_id, "\0session")[:16]

    def csrf_token(self, session_id: str) -> str:
        return self.signer.process_key(session_id, "\0csrf")

    def rotation_token(self, old_id: str, new_id: str) -> str:
        """What lets the page of `old_id` fetch the cookie of `new_id` (see web/rotation.py):
        worthless without the old cookie, and for ROTATION_TOKEN_LIFE seconds only."""
        until = int(now() + ROTATION_TOKEN_LIFE)
        proof = self.signer.process_key(old_id, f"\0rotate\0{new_id}\0{until}")
        return f"{new_id}.{until}.{proof}"

    async def redeem_rotation(self, old_id: str, token: str) -> str | None:
        """The new id a rotation token names, if it was made for `old_id`, is still valid
        and was not used yet (it serves once: the store remembers it); else None."""
        new_id, _, rest = token.partition(".")
        until_text, _, proof = rest.partition(".")
        if not (until_text.isdigit() and len(new_id) == 43 and now() <= int(until_text)):
            return None
        expected = self.signer.process_key(old_id, f"\0rotate\0{new_id}\0{until_text}")
        if not hmac.compare_digest(proof.encode(), expected.encode()):
            return None
        used = f"rotation-token:{expected}"  # a tombstone, like an ended session's id
        if await self.is_ended(used):
            return None
        with _store_errors("write"):
            await anyio.to_thread.run_sync(self.store.delete, used)
        return new_id

    def check_csrf(self, session_id: str, token: bytes | None) -> bool:
        """Whether `token` (the header's raw bytes: any bytes a client sends) is the one."""
        expected = self.csrf_token(session_id).encode()
        return token is not None and hmac.compare_digest(token, expected)

    # -- the store, without blocking the event loop on writes --------------------------------
    async def load(self, session_id: str) -> Snapshot:
        """The stored session. Fast local stores (SQLite on a local file, memory) are read
        inline; a store with ``blocking = True`` (a network or ORM round trip) in a thread.

        Raises SessionStoreError when the store fails.
        """
        store = self.store
        with _store_errors("read"):
            if getattr(store, "blocking", False):
                return await anyio.to_thread.run_sync(store.load, session_id)
            return store.load(session_id)

    def stamp(self, session_id: str) -> Hashable | None:
        """The store's stamp of the session (see SessionStore.stamp), None when unknown.

        Time is part of it: a session expires without any write, and an App must see that
        within STAMP_PERIOD seconds.
        """
        with _store_errors("read"):
            stamp = self.store.stamp(session_id)
        return None if stamp is None else (stamp, int(now() // STAMP_PERIOD))

    async def save(self, session_id: str, changes: Mapping[str, str | None]) -> None:
        """Store some keys (SessionStoreError when the store fails)."""
        if changes:
            with _store_errors("write"):
                args = (session_id, dict(changes), self.max_age)
                await anyio.to_thread.run_sync(self.store.save, *args)
        await self._cleanup_now_and_then()

    async def is_ended(self, session_id: str) -> bool:
        """Whether the id was ended (logout, rotation): a request carrying it gets a new
        session rather than one whose writes would be dropped."""
        store = self.store
        with _store_errors("read"):
            if getattr(store, "blocking", False):
                return await anyio.to_thread.run_sync(store.is_ended, session_id)
            return store.is_ended(session_id)

    async def move(self, old_id: str, new_id: str) -> None:
        """Give the session a new id in the store (the old one stays ended)."""
        with _store_errors("write"):
            await anyio.to_thread.run_sync(self.store.rename, old_id, new_id)

    async def rotate(self, old_id: str | None, new_id: str) -> None:
        if old_id is not None:
            await self.move(old_id, new_id)
            await self.end_processes(old_id)

    async def end(self, session_id: str) -> None:
        await anyio.to_thread.run_sync(self.store.delete, session_id)
        await self.end_processes(session_id)

    async def end_processes(self, session_id: str) -> None:
        """End the session's user processes of every App served on this machine."""
        await anyio.to_thread.run_sync(self.end_processes_blocking, [session_id])

    def end_processes_blocking(self, session_ids: Iterable[str]) -> int:
        """End the sessions' user processes of every App on this machine, and in a cluster
        on every node (for sync code such as Django's signal receivers; async code awaits
        ``end_processes``). Returns how many ended on this machine.

        Raises SessionStoreError when the cluster cannot be told (Redis down).
        """
        base = self.runtime_dir or paths.default_base()
        ids = list(session_ids)
        tags = [self.tag(session_id) for session_id in ids]
        ended = sum(control.end_session(base, tag) for tag in tags)
        logger.info("ended %d process(es) of %d session(s)", ended, len(ids))
        if self.cluster is not None and tags:
            with _store_errors("end the session on every node"):
                self.cluster.end_sessions(tags, self.max_age)
        return ended

    async def _cleanup_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._last_cleanup >= CLEANUP_EVERY:
            self._last_cleanup = now
            try:
                removed = await anyio.to_thread.run_sync(self.store.cleanup)
            except Exception as exc:  # not the request's problem: the next one tries again
                logger.warning("removing expired sessions failed: %s", exc)
                return
            if removed:
                logger.info("removed %d expired session(s)", removed)


class SessionStoreError(HtagwebError):
    """Raised by Sessions.load and Sessions.save when the store fails (a locked or
    unwritable database, an unreachable server): the user is told, the worker goes on."""


@contextlib.contextmanager
def _store_errors(what: str) -> Iterator[None]:
    try:
        yield
    except HtagwebError:
        raise
    except Exception as exc:
        logger.error("the session store failed to %s: %s: %s", what, type(exc).__name__, exc)
        raise SessionStoreError(f"the session store failed to {what}") from exc
