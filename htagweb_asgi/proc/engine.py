"""Which htag this environment runs, and what a user process asks of the App either way.

htag 1 and htag 2 share the package name ``htag``, so an environment has one of them. The
template finds out which once (:func:`engine`), when it loads the App, and every user
process it forks inherits the answer; a spawned one asks again and gets the same. The user
process (user.py) speaks frames and drives an :class:`AppEngine`; proc/htag1.py and
proc/htag2.py are the only modules that call htag.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.pagerequest import PageRequest

GENERIC_ERROR = "the application failed to handle this action"

# ``push(payload)``: send bytes to every page subscribed to pushes; False when none took it
Push = Callable[[bytes], Awaitable[bool]]


class CreationFailed(HtagwebError):
    """The App's constructor raised; the message is its traceback (shown with ``debug``)."""


class AppEngine(Protocol):
    """One user's live App, as its user process drives it."""

    htag: int  # the major version: the page's header tells the worker (htag 2 pages need a bridge)

    def serves(self, request: PageRequest) -> bool:
        """Whether this App may render `request`; else the host replaces the process (htag 1:
        other init arguments; htag 2: ``?n``, a fresh App asked for)."""

    def render(self, request: PageRequest) -> str:
        """The whole page for `request` (exceptions are the App's own: the caller reports them)."""

    async def attached(self) -> bytes | None:
        """A websocket page connected: what it gets first (htag 2: updates rendered while no
        page could take them), or None."""

    async def interact(self, payload: bytes) -> bytes:
        """Run one message from the page; return the reply (Rejected for a malformed one)."""

    def report(self, reply: bytes, problem: str) -> bytes:
        """`reply` with `problem` added (a session value the App set could not be kept)."""

    def full_rendering(self) -> bytes:
        """A push that renders the whole App again: for a page that missed pushes no longer
        kept, or the reply to a resent interaction whose reply is no longer kept."""

    def changed(self, reply: bytes) -> bool:
        """Whether an interaction's reply may change what a page shows (then its effect goes
        to the App's other pages)."""

    def effect(self, reply: bytes) -> bytes | None:
        """An interaction's visible effect as a push for the App's *other* pages (without
        what was for the page that made it: its callback, its scripts), or None."""

    async def destroy(self) -> None:
        """The process is ending (it may: not a SIGKILL): run the App's end hook, if any."""


class EngineFactory(Protocol):
    def __call__(
        self,
        app_class: type,
        request: PageRequest,
        *,
        debug: bool,
        session: Any,
        push: Push,
        on_exit: Callable[[], None],
    ) -> AppEngine:
        """Create the App for its first page (CreationFailed when its constructor raised)."""


@dataclass(frozen=True)
class Engine:
    """What a major version of htag provides to the template and its user processes."""

    major: int
    create: EngineFactory
    preload: Callable[[], None]  # in the template: import what every user process needs
    warm_up: Callable[[], Awaitable[None]]  # in a waiting spare: run the page code once


def htag_major() -> int:
    """The major version of the installed htag (the distribution's metadata; an htag with
    none, e.g. a source checkout on sys.path, is told apart by a module only htag 2 has)."""
    try:
        version = importlib.metadata.version("htag")
    except importlib.metadata.PackageNotFoundError:
        return 2 if importlib.util.find_spec("htag.runner") is not None else 1
    return 2 if int(version.split(".")[0]) >= 2 else 1


@functools.cache
def engine() -> Engine:
    """The engine of this environment's htag (its module is imported here, once)."""
    if htag_major() == 2:
        from htagweb_asgi.proc import htag2

        return Engine(2, htag2.Htag2App, htag2.preload, htag2.warm_up)
    from htagweb_asgi.proc import htag1

    return Engine(1, htag1.Htag1App, htag1.preload, htag1.warm_up)
