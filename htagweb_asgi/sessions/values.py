"""The dict-like sessions that code sees: ``request.session`` in framework routes (Session)
and ``tag.session`` / ``tag.state`` in the App's process (ProcessSession).

Both hold decoded JSON values and know what changed since they were loaded, key by key,
comparing JSON texts (so a nested ``session["a"]["b"] = 1`` is seen too). A value that JSON
cannot carry is refused when it is set, with an error naming its key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.options import DEFAULT_MAX_SESSION as DEFAULT_MAX_SIZE

Snapshot = Mapping[str, str]  # a session as stored: key → JSON text

__all__ = ["DEFAULT_MAX_SIZE", "ProcessSession", "Session", "SessionValueError", "Snapshot"]


class SessionValueError(HtagwebError, TypeError):
    """Raised when a session value cannot be stored (not JSON-serializable, or too big)."""


def encode(key: str, value: Any) -> str:
    """The JSON text of `value`, or SessionValueError naming `key`."""
    if not isinstance(key, str):
        raise SessionValueError(f"session keys must be strings, not {key!r}")
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SessionValueError(
            f"session value for {key!r} is not JSON-serializable: {exc}"
        ) from None


def decode(snapshot: Snapshot) -> dict[str, Any]:
    return {key: json.loads(text) for key, text in snapshot.items()}


def diff(before: Snapshot, now: Mapping[str, Any], max_size: int) -> dict[str, str | None]:
    """Per-key changes from `before` to `now` (None: deleted); SessionValueError when a value
    cannot be stored or the session would exceed `max_size` bytes of JSON."""
    texts = {key: encode(key, value) for key, value in now.items()}
    size = sum(len(key) + len(text) for key, text in texts.items())
    if size > max_size:
        raise SessionValueError(f"the session would hold {size} bytes, over the {max_size} allowed")
    changes: dict[str, str | None] = {k: t for k, t in texts.items() if before.get(k) != t}
    changes.update({key: None for key in before if key not in texts})
    return changes


class _Tracked(dict[str, Any]):
    """A dict that refuses unstorable values and remembers being read or written."""

    accessed = False

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        encode(key, value)
        self.accessed = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.accessed = True
        super().__delitem__(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        self.accessed = True
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self.accessed = True
        super().clear()

    def items(self) -> Any:
        self.accessed = True
        return super().items()

    def values(self) -> Any:
        self.accessed = True
        return super().values()


class Session(_Tracked):
    """``scope["session"]`` put by SessionMiddleware: what FastAPI/Starlette's
    ``request.session`` and authlib's Starlette client use.

    ``rotate()`` (call it at login) gives the session a new id and ends the old id's
    processes; ``end()`` (logout) forgets it and ends its processes. Both take effect when
    the response starts.
    """

    def __init__(self, session_id: str | None, snapshot: Snapshot) -> None:
        super().__init__(decode(snapshot))
        self.session_id = session_id
        self.loaded = dict(snapshot)
        self.issue_cookie = False  # a new id, to be sent to the browser
        self.rotating = False
        self.ending = False

    # Starlette >= 1.0 compatibility: Request.session calls mark_accessed()
    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True

    def rotate(self) -> None:
        """Change the session id when the response starts (prevents session fixation)."""
        self.rotating = True

    def end(self) -> None:
        """Forget this session when the response starts: logout."""
        self.ending = True
        self.clear()


class ProcessSession(_Tracked):
    """``tag.session`` in a user process: one object for the process's life (htag's TagState
    keeps a reference to it), refreshed in place from the store and diffed after each use."""

    def __init__(self) -> None:
        super().__init__()
        self.synced: dict[str, str] = {}  # the store's texts as last exchanged with the host
        self.refused: str | None = None  # the last unstorable value set (htag hides the error)
        self.rotation_asked = False

    def rotate(self) -> None:
        """Give the session a new id, as a login must (session fixation): call it when the
        App itself logs the user in. After this interaction the page gets the new cookie,
        and this process, its state and this page go on; other pages of the old session
        reload (see docs/guide/sessions.md)."""
        self.rotation_asked = True

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            super().__setitem__(key, value)
        except SessionValueError as exc:
            self.refused = str(exc)
            raise

    def refresh(self, snapshot: Snapshot) -> None:
        """Take the store's current values (a route may have written since), keeping on top
        what the App changed meanwhile and has not reported yet (a background task)."""
        try:
            pending = diff(self.synced, self, 1 << 62) if self.accessed else {}
        except SessionValueError:
            pending = {}
        super().clear()
        super().update(decode(snapshot))
        for key, text in pending.items():
            if text is None:
                super().pop(key, None)
            else:
                super().__setitem__(key, json.loads(text))
        self.synced = dict(snapshot)
        self.accessed = bool(pending)

    def restore(self, changes: Mapping[str, str | None]) -> None:
        """Hold again the `changes` the App made in an interaction that is answered a second
        time (its page lost the reply): the host stores them again with that answer, and a
        refresh from a store that never got them the first time (the worker relaying them
        died) may have undone them here."""
        for key, text in changes.items():
            if text is None:
                super().pop(key, None)
                self.synced.pop(key, None)
            else:
                super().__setitem__(key, json.loads(text))
                self.synced[key] = text

    def take_changes(self, max_size: int) -> dict[str, str | None]:
        """Changes since the last exchange (empty when the session was not even looked at).

        An unstorable change (a nested value JSON cannot carry, a session grown too big) is
        undone here, so the stored session stays intact, and reported by SessionValueError.
        """
        if not self.accessed:
            return {}
        self.accessed = False
        try:
            changes = diff(self.synced, self, max_size)
        except SessionValueError:
            super().clear()
            super().update(decode(self.synced))
            raise
        for key, text in changes.items():
            if text is None:
                self.synced.pop(key, None)
            else:
                self.synced[key] = text
        return changes
