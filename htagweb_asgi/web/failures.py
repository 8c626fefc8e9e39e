"""One table from what went wrong to what the user is told, for every transport: an error
page (GET), a close code with a reason (websocket), a JSON error (POST)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.paths import RuntimeDirError
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.sessions.core import SessionStoreError
from htagweb_asgi.web.pool import (
    AppLoadError,
    ClusterUnavailable,
    PoolDraining,
    PoolError,
    PoolFull,
    PoolLimited,
)

logger = logging.getLogger(__name__)

RETRY_AFTER = 10  # seconds a busy or unavailable server asks a page to wait
DRAIN_RETRY_AFTER = 5  # seconds a draining worker asks a new user to wait (a restart is quick)
NO_PROCESS_REASON = "no process for this page"


class PageError(HtagwebError):
    """The user process could not render the page; `message` is a traceback under debug."""


class ReplacementConflict(HtagwebError):
    """Other requests of the same session kept replacing the process with other init
    arguments while this page was rendered (tabs opened at once with other queries)."""


class LimitReached(HtagwebError):
    """The user's process went past its memory or CPU limit and was ended; the message is
    what its user is told ("This session reached its memory limit.")."""


class CreationTimeout(HtagwebError):
    """Creating or rendering the App took longer than timeout_interaction (process killed)."""


@dataclass(frozen=True)
class Failure:
    """What the user is told about a failure."""

    status: int  # of the error page or the POST's reply
    code: Close  # of the websocket's close, and in the POST's JSON reply
    message: str  # for everybody
    detail: str = ""  # only with debug=True: a traceback, the server's side of the story
    retry_after: int | None = None  # seconds: the server is busy, the page may retry
    reload_hint: bool = False  # a reload is likely to help
    refusal: str = ""  # counted as a refusal with this reason (see protocol/series.py)

    def text(self, debug: bool) -> str:
        return f"{self.message}\n\n{self.detail}" if debug and self.detail else self.message


def explain(exc: HtagwebError, app: str) -> Failure:
    """The failure to report for `exc`, raised while serving `app`; logged once here."""
    if isinstance(exc, AppLoadError):
        logger.error("cannot load %s: %s", app, exc)
        return Failure(500, Close.UNAVAILABLE, "The application cannot start", _load_detail(exc))
    if isinstance(exc, PoolLimited):  # logged by the template, once a minute (a flood)
        message = (
            f"Too many new visits from your network right now: please retry in {exc.retry_after} s"
        )
        return Failure(429, Close.UNAVAILABLE, message, retry_after=exc.retry_after, refusal="rate")
    if isinstance(exc, PoolFull):
        logger.warning("refused a page of %s: too many user processes", app)
        message = "The server is busy, please retry shortly"
        return Failure(503, Close.UNAVAILABLE, message, retry_after=RETRY_AFTER, refusal="busy")
    if isinstance(exc, PoolDraining):
        message = "The server is restarting, please retry shortly"
        return Failure(
            503, Close.UNAVAILABLE, message, retry_after=DRAIN_RETRY_AFTER, refusal="draining"
        )
    if isinstance(exc, LimitReached):
        logger.info("told a user of %s: %s", app, exc)
        return Failure(503, Close.LIMIT, str(exc), reload_hint=True)
    if isinstance(exc, CreationTimeout):
        message = "The application took too long to start"
        return Failure(504, Close.TIMED_OUT, message, reload_hint=True)
    if isinstance(exc, ReplacementConflict):
        message = "This page was opened with other arguments at the same time (another tab?)"
        return Failure(409, Close.NO_PROCESS, message, reload_hint=True)
    if isinstance(exc, PageError):
        return Failure(500, Close.CRASHED, "The application failed to render", str(exc))
    if isinstance(exc, ClusterUnavailable):  # logged once per outage (redisclient.py)
        message = "The server cannot reach its cluster, please retry shortly"
        return Failure(
            503, Close.UNAVAILABLE, message, str(exc), RETRY_AFTER, refusal="unavailable"
        )
    if isinstance(exc, SessionStoreError):
        message = "The server cannot reach its sessions, please retry shortly"
        return Failure(
            503, Close.UNAVAILABLE, message, str(exc), RETRY_AFTER, refusal="unavailable"
        )
    if isinstance(exc, RuntimeDirError | PoolError):
        logger.error("cannot reach the processes of %s: %s", app, exc)
        message = "The application is unavailable"
        return Failure(
            503, Close.UNAVAILABLE, message, "", RETRY_AFTER, True, refusal="unavailable"
        )
    logger.error("failed serving %s: %s", app, exc)
    return Failure(500, Close.UNAVAILABLE, "The application is unavailable", str(exc))


def unavailable(problem: str) -> Failure:
    """The startup checks failed (see readiness.py): the operator must change something."""
    message = "The server cannot serve this application now"
    return Failure(503, Close.UNAVAILABLE, message, problem, RETRY_AFTER, refusal="unavailable")


def _load_detail(exc: AppLoadError) -> str:
    return f"{exc}\n\n{exc.traceback}"
