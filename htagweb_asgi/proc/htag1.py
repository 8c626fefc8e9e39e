"""Every call into htag 1 (``HRenderer``) made by a user process, and nothing else.

The user process (user.py) speaks frames; this module speaks htag: build the renderer with
the page's init arguments, render the page, validate and run an interaction, push through
``sendactions``, warm the code paths up in a spare. htag 2 has a module of its own beside
this one (htag2.py), with the same shape (engine.AppEngine).

An interaction reaches us as JSON from the network. htag would ``getattr`` whatever method
name it is given, so the shape and the names are checked here before htag sees them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from htagweb_asgi.proc import pagejson
from htagweb_asgi.proc.engine import GENERIC_ERROR, CreationFailed, Push
from htagweb_asgi.protocol.codes import Close, Rejected
from htagweb_asgi.protocol.pagerequest import Init, PageRequest

# The `js` htag embeds in the page: it hands interactions to the static client (client.js).
PAGE_JS = "async function interact(o) { return window.htagweb.interact(o); }"

_DISPATCHERS = frozenset({"__on__", "__on_event__"})  # htag's own event entry points

_RESERVED = frozenset({"render", "state"})  # set by htag on every tag before it checks keywords
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interaction:
    """A well-formed call for ``HRenderer.interact``."""

    oid: int
    method: str | None
    args: list[Any]
    kargs: dict[str, Any]
    event: dict[str, Any] | None


def parse(payload: bytes) -> Interaction:
    """Return the interaction in `payload`, or raise Rejected (1007 bad JSON, 1008 bad shape)."""
    data = pagejson.load(payload, "interaction")
    if not isinstance(data, dict):
        raise Rejected(Close.POLICY_VIOLATION, "interaction must be a JSON object")
    oid = data.get("id")
    if not isinstance(oid, int) or isinstance(oid, bool):
        raise Rejected(Close.POLICY_VIOLATION, "interaction 'id' must be an integer")
    method = data.get("method")
    if method is not None and not _callable_name(method):
        raise Rejected(Close.POLICY_VIOLATION, "interaction 'method' is not a public method name")
    args = data.get("args")
    args = [] if args is None else args
    kargs = data.get("kargs")
    kargs = {} if kargs is None else kargs
    event = data.get("event")
    if not isinstance(args, list) or not isinstance(kargs, dict):
        raise Rejected(
            Close.POLICY_VIOLATION, "interaction 'args' must be a list, 'kargs' an object"
        )
    if event is not None and not isinstance(event, dict):
        raise Rejected(Close.POLICY_VIOLATION, "interaction 'event' must be an object")
    return Interaction(oid, method, args, kargs, event)


def usable_init(app_class: type, init: Init) -> Init:
    """`init` without the keywords htag refuses to set on the App (its own attributes and
    methods: ``?parent=1``, ``?session=1``...); the App is created without them."""
    args, kwargs = init
    names = _attribute_names(app_class)
    taken = [key for key in kwargs if key != "js" and key in names]
    if not taken:
        return init
    logger.info("ignored query keywords that name attributes of the App: %r", taken)
    return args, {key: value for key, value in kwargs.items() if key not in taken}


@functools.cache
def _attribute_names(app_class: type) -> frozenset[str]:
    """What htag refuses as a keyword: ``dir()`` of the tag (not ``hasattr``: any name is an
    attribute of a Tag class, ``Tag.b`` makes a <b>), and what it sets before checking."""
    return frozenset(dir(app_class)) | _RESERVED


def _callable_name(method: object) -> bool:
    """Private names (``_hr``, ``__class__``...) are never reachable from the page."""
    if not isinstance(method, str) or not method.isidentifier():
        return False
    return not method.startswith("_") or method in _DISPATCHERS


class Htag1App:
    """One user's htag 1 App: its ``HRenderer`` (an engine.AppEngine)."""

    htag = 1

    def __init__(
        self,
        app_class: type,
        request: PageRequest,
        *,
        debug: bool,
        session: Any,
        push: Push,
        on_exit: Callable[[], None],
    ) -> None:
        """Build the renderer with the page's init arguments; CreationFailed when the App's
        constructor raised (htag catches it and only logs it)."""
        from htag.render import HRenderer

        self._app_class = app_class
        with _htag_errors() as errors:
            renderer = HRenderer(
                app_class,
                PAGE_JS,
                exit_callback=on_exit,
                init=usable_init(app_class, request.init),
                fullerror=debug,
                session=session,
            )
        if not isinstance(renderer.tag, app_class):  # htag caught an exception in init
            raise CreationFailed(errors[-1] if errors else "the App could not be created")
        self._push = push
        renderer.sendactions = self._send_actions
        self._renderer = renderer
        self._debug = debug

    def serves(self, request: PageRequest) -> bool:
        """Whether the App was created with these init arguments (else: replace the process)."""
        return bool(self._renderer.init == usable_init(self._app_class, request.init))

    def render(self, request: PageRequest) -> str:
        """The whole page (any exception is the App's own: the caller reports it)."""
        return str(self._renderer)

    async def attached(self) -> bytes | None:
        """Nothing: htag 1's page asks for what it needs when it starts."""
        return None

    async def interact(self, payload: bytes) -> bytes:
        """Run the interaction in `payload`; return htag's actions (Rejected for a bad one)."""
        call = parse(payload)
        actions: dict[str, Any] = await self._renderer.interact(
            call.oid, call.method, call.args, call.kargs, call.event
        )
        if "err" in actions and not self._debug:
            actions["err"] = GENERIC_ERROR
        return json.dumps(actions).encode()

    def report(self, reply: bytes, problem: str) -> bytes:
        """Put `problem` (a session value that could not be kept) in a reply's ``err``."""
        actions = json.loads(reply)
        actions["err"] = problem
        return json.dumps(actions).encode()

    async def destroy(self) -> None:
        """Nothing: htag 1 has no end hook."""

    async def _send_actions(self, actions: dict[str, Any]) -> bool:
        """``hr.sendactions``: what ``tag.update()`` pushes."""
        return await self._push(json.dumps(actions).encode())

    def full_rendering(self) -> bytes:
        """The actions that re-render the whole App (its <body>), as ``tag.update()`` of the
        App would: for a page that missed pushes no longer kept."""
        return json.dumps(self._actions_for([self._renderer.tag])).encode()

    @staticmethod
    def changed(reply: bytes) -> bool:
        """Whether an interaction's reply may change what the page shows (htag's "update"
        replaces tags, "stream" adds to one: a generator's step)."""
        return b'"update"' in reply or b'"stream"' in reply

    def effect(self, reply: bytes) -> bytes | None:
        """An interaction's effect for the App's *other* pages: the tags its reply updates or
        adds to, rendered whole as ``tag.update()`` pushes them (their own scripts included,
        but not the scripts the interaction ran for its page: ``call()``, a generator's next
        step)."""
        actions = json.loads(reply)
        keys = [*actions.get("update", {}), *actions.get("stream", {})]
        live = [tag for tag in map(self._tag, keys) if tag is not None]
        return json.dumps(self._actions_for(list(dict.fromkeys(live)))).encode() if live else None

    def _actions_for(self, tags: list[Any]) -> dict[str, Any]:
        actions: dict[str, Any] = self._renderer._mkReponse(tags)  # HRenderer.update()'s own
        return actions

    @staticmethod
    def _tag(key: str) -> Any:
        """The live tag an update names (htag keys them by ``id(tag)``, JSON by its text)."""
        from htag import Tag

        return Tag.find_tag(int(key)) if key.isdigit() else None


async def warm_up() -> None:
    """Run htag's page and interaction code once on a throwaway App (in a waiting spare).

    The first run of that code in a forked process pays its copy-on-write faults and the
    interpreter's specialization; paid here, they are not in the first user's wait.
    """
    from htag import Tag
    from htag.render import HRenderer

    class WarmUp(Tag.body):  # type: ignore[misc]
        def init(self) -> None:
            self.value = Tag.span("0")
            self.add(Tag.button("+", _onclick=self.click))
            self.add(self.value)

        def click(self, _event: object) -> None:
            self.value.clear("1")

    renderer = HRenderer(WarmUp, "")
    str(renderer)
    button = renderer.tag.childs[0]
    await renderer.interact(id(button), "__on__", [f"onclick-{id(button)}"], {}, {})


def _warm_up_without_loop() -> None:
    """warm_up() driven by hand, with no event loop (the template never runs one): htag's
    code then runs and is specialized once, before the fork, instead of in every process."""
    coro = warm_up()
    try:
        coro.send(None)  # it never waits: it runs to the end at once...
    except StopIteration:
        return
    except Exception:  # a warm-up only: the spare's own warm-up still runs
        logger.debug("warm-up in the template stopped", exc_info=True)
    coro.close()  # ...had it waited for something, it stops there


def preload() -> None:
    """Import what every user process needs, in the template (shared copy-on-write), and
    run htag's page and interaction code there once (no event loop: see warm_up)."""
    import htag.render  # noqa: F401

    for _ in range(3):  # CPython specializes code after a few runs: let it, before the fork
        _warm_up_without_loop()


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _htag_errors() -> Iterator[list[str]]:
    """Collect what htag logs at ERROR (it catches an App's init exception and only logs it)."""
    capture = _Capture()
    htag_logger = logging.getLogger("htag.render")
    htag_logger.addHandler(capture)
    try:
        yield capture.messages
    finally:
        htag_logger.removeHandler(capture)
