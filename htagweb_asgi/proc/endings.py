"""Why the template ends a user process, and how the process hears it.

On the default path each reason is a signal (the process's handlers tell its pages why); on
the portable path (Windows has none of these signals) it is an END frame on the link the
template holds to each process (see portable.py), and KILL is ``TerminateProcess``.
"""

from __future__ import annotations

import enum
import sys

from htagweb_asgi.protocol.codes import REPLACED_REASON, Close


class End(enum.Enum):
    """A reason to end a user process; the value is what deaths.py and the pages call it."""

    EXPIRE = "inactivity"  # idle, or its page never attached: the page may reload
    EVICT = "eviction"  # room for other users, a newer page, or an operator's kill
    SESSION_ENDED = "session_end"  # logout, rotation
    REPLACED = "replaced"  # another page of the session opened the App with other arguments
    STOP = "stop"  # the server stops: quietly
    KILL = "kill"  # at once (an interaction that took too long, a limit, one that lingers)


# what the pages are told (close code, reason) for the ends that tell them anything
TOLD = {
    End.EXPIRE: (Close.EXPIRED, "ended after inactivity"),
    End.EVICT: (Close.EXPIRED, "ended to make room for other users, or for a newer page"),
    End.SESSION_ENDED: (Close.NO_PROCESS, "the session ended"),
    End.REPLACED: (Close.REPLACED, REPLACED_REASON),
}

if sys.platform != "win32":
    import signal

    SIGNALS = {
        End.EXPIRE: signal.SIGUSR1,
        End.EVICT: signal.SIGUSR2,
        End.SESSION_ENDED: signal.SIGHUP,
        End.REPLACED: signal.SIGINT,
        End.STOP: signal.SIGTERM,
        End.KILL: signal.SIGKILL,
    }
