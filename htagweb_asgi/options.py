"""Options of an App (overridable per app) and of the host."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from htagweb_asgi.protocol import portable

DEFAULT_MAX_SESSION = 64 * 1024  # bytes of JSON a session may hold
RESTART_GRACE_ENV = "HTAGWEB_RESTART_GRACE"
DEFAULT_RESTART_GRACE = 60.0
LIMIT_MECHANISMS = ("auto", "cgroup2", "cgroup1", "rlimit", "watchdog", "jobobject")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def parse_size(value: int | str | None) -> int | None:
    """Bytes from an int or a string such as ``"256M"``, ``"1.5G"``, ``"512k"``, ``"2GiB"``
    (powers of 1024); None stays None. Raises ValueError for anything else, or a size <= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is None:
            raise ValueError(f"not a size: {value!r} (use bytes, or a string like '256M')")
        value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= 0:
        raise ValueError(f"a size must be positive: {value!r}")
    return value


TRANSPORTS = ("auto", "websocket", "sse", "http")


@dataclass(frozen=True)
class AppOptions:
    """What can be set per App, with htagweb's names and meanings.

    - debug: Python tracebacks shown in the page; otherwise a short message.
    - parano: end-to-end encryption of interactions and pushes between the page and the
      user's process (X25519, HKDF-SHA256, AES-256-GCM; the host relays ciphertext).
    - http_only: interactions over HTTP POST, no websocket (so no ``tag.update()`` push);
      the same as ``transport="http"``, and it wins over ``transport``.
    - timeout_interaction: seconds an interaction (or the App's creation) may take before its
      process is killed and the user is told.
    - timeout_inactivity: seconds without interaction after which the process ends (0: never).
      Pushes do not count as activity.
    - memory_limit: memory each user process may add to what it shares with its template,
      in bytes or as a string like ``"256M"`` (None: no limit). Past it the process ends and
      its user is told (see docs/guide/operating.md for how each platform enforces it).
    - cpu_limit: CPU seconds one interaction (and what runs until the next one) may use
      (None: no limit); past it the process ends and its user is told.
    - transport: how the page talks to its process. "auto" (the default): a websocket,
      falling back to Server-Sent Events (pushes) and POST (interactions) where the websocket
      cannot be opened; "websocket" or "sse" only; "http": POST only, no push.
    """

    debug: bool = False
    parano: bool = False
    http_only: bool = False
    timeout_interaction: float = 60.0
    timeout_inactivity: float = 0.0
    memory_limit: int | str | None = None
    cpu_limit: float | None = None
    transport: str = "auto"

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(map(repr, TRANSPORTS))}")
        if not (self.timeout_interaction > 0 and math.isfinite(self.timeout_interaction)):
            raise ValueError("timeout_interaction must be a positive number of seconds")
        if not (self.timeout_inactivity >= 0 and math.isfinite(self.timeout_inactivity)):
            raise ValueError("timeout_inactivity must be >= 0 seconds (0 disables it)")
        object.__setattr__(self, "memory_limit", parse_size(self.memory_limit))
        if self.cpu_limit is not None and not (
            isinstance(self.cpu_limit, int | float)
            and self.cpu_limit > 0
            and math.isfinite(self.cpu_limit)
        ):
            raise ValueError("cpu_limit must be a positive number of CPU seconds (or None)")

    @property
    def memory_bytes(self) -> int | None:
        """memory_limit in bytes (a string was parsed at construction)."""
        return parse_size(self.memory_limit)

    @property
    def page_transport(self) -> str:
        """The transport the page uses: `transport`, or "http" under ``http_only``."""
        return "http" if self.http_only else self.transport

    @property
    def websocket(self) -> bool:
        """Whether the page may open a websocket."""
        return self.page_transport in ("auto", "websocket")

    @property
    def event_stream(self) -> bool:
        """Whether the page may open a Server-Sent Events stream (pushes without websocket)."""
        return self.page_transport in ("auto", "sse")

    @property
    def posts(self) -> bool:
        """Whether the page may POST its interactions (every transport but "websocket")."""
        return self.page_transport != "websocket"

    def with_overrides(self, **overrides: Any) -> AppOptions:
        """Return a copy with some fields changed (unknown names raise TypeError)."""
        unknown = set(overrides) - set(asdict(self))
        if unknown:
            raise TypeError(f"unknown App option(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)


@dataclass(frozen=True)
class Limits:
    """Bounds on what the network may send us, and on the live user processes.

    max_processes: live user processes per App and server; None (the default) sizes it to
    the machine when the App's template starts: half the memory available then (the
    smaller of MemAvailable and the cgroup's limit) divided by what one warm user process
    of this App was measured to take (logged, with the figures it came from).
    """

    max_body_size: int = 1024 * 1024  # bytes of an HTTP interaction body
    max_frame_size: int = 1024 * 1024  # bytes of a websocket message
    max_query_size: int = 8 * 1024  # bytes of a page's query string
    max_processes: int | None = None  # None: sized to the machine's memory at start

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "max_processes" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer")


@dataclass(frozen=True)
class Admission:
    """Who may start user processes, how fast, and what a page may hold open.

    A page load without a session costs a process: these bound what one client address can
    make the server spend, so that anonymous traffic never locks real users out
    (see docs/guide/admission.md).

    - new_process_burst, new_process_rate: each client address may start `burst` user
      processes at once, then `rate` per second (a token bucket, shared by every worker);
      beyond, its page loads get ``429 Too Many Requests`` with ``Retry-After``.
    - client_share: the fraction of ``max_processes`` one client address may hold (at least
      one process); beyond, its least used idle process makes room, else a 429.
    - unattached_timeout: seconds a user process lives when its page never attached (no
      websocket, no event stream, no interaction: a crawler, a link preview, a flood); 0: as
      long as others.
    - max_websockets_per_page: open websockets and event streams to one App instance (every
      tab of a session showing one App shares it); more are refused with close code 4009.
    - max_websockets_per_session: open websockets and event streams of one session in one
      server worker, whatever the App (4009 beyond).
    - trusted_proxies: the addresses (IPs, networks such as ``"10.0.0.0/8"``, or ``"unix"``
      for a unix-socket peer) of proxies whose `forwarded_header` names the client; from any
      other peer the header is ignored, so a client cannot choose its own address.
    - forwarded_header: ``"x-forwarded-for"`` or ``"forwarded"`` (RFC 7239): the one your
      proxy sets (the other is ignored, since a client could send it).

    Addresses are compared in memory only, IPv6 by /64 network (what one subscriber gets).
    """

    new_process_burst: int = 20
    new_process_rate: float = 1.0
    client_share: float = 0.1
    unattached_timeout: float = 30.0
    max_websockets_per_page: int = 16
    max_websockets_per_session: int = 32
    trusted_proxies: tuple[str, ...] = ()
    forwarded_header: str = "x-forwarded-for"

    def __post_init__(self) -> None:
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        if not (isinstance(self.new_process_burst, int) and self.new_process_burst >= 1):
            raise ValueError("new_process_burst must be an integer >= 1")
        if not (self.new_process_rate > 0 and math.isfinite(self.new_process_rate)):
            raise ValueError("new_process_rate must be a positive number of processes per second")
        if not 0 < self.client_share <= 1:
            raise ValueError("client_share must be in (0, 1]")
        if not (self.unattached_timeout >= 0 and math.isfinite(self.unattached_timeout)):
            raise ValueError("unattached_timeout must be >= 0 seconds (0 disables it)")
        for name in ("max_websockets_per_page", "max_websockets_per_session"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1")
        if self.forwarded_header not in ("x-forwarded-for", "forwarded"):
            raise ValueError("forwarded_header must be 'x-forwarded-for' or 'forwarded'")
        for proxy in self.trusted_proxies:
            if proxy != "unix":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise ValueError(f"trusted_proxies: {proxy!r} is not an address") from None

    @classmethod
    def unlimited(cls) -> Admission:
        """No per-client limit (for a load test from one machine: never on a public server)."""
        return cls(
            new_process_burst=1 << 30,
            new_process_rate=1e9,
            client_share=1.0,
            max_websockets_per_page=1 << 20,
            max_websockets_per_session=1 << 20,
        )


def default_restart_grace() -> float:
    """``$HTAGWEB_RESTART_GRACE`` seconds when set (a deployment's, or a test run's), else 60."""
    value = os.environ.get(RESTART_GRACE_ENV)
    return float(value) if value else DEFAULT_RESTART_GRACE


def default_start_method() -> str:
    """fork on Linux; a fresh interpreter elsewhere (macOS frameworks are not fork-safe),
    and on the portable path."""
    return "fork" if sys.platform.startswith("linux") and not default_portable() else "spawn"


def default_portable() -> bool:
    """The portable process model on Windows, or where ``$HTAGWEB_PORTABLE=1``."""
    return sys.platform == "win32" or portable.from_environment()


@dataclass(frozen=True)
class TemplateSettings:
    """How the template process of an App supervises its user processes.

    - lease_grace: seconds without any worker before the template asks whether its server
      still listens (covers a worker restart).
    - restart_grace: seconds the user processes are kept once the server is gone, for a new
      server on the same address (a restart, a deploy) to adopt them; then they end
      (default 60, or ``$HTAGWEB_RESTART_GRACE``; 0: end them as soon as the server is gone).
    - stop_grace: seconds a user process gets after SIGTERM before SIGKILL.
    - evict_after: at the process cap, only a process idle this long may be evicted.
    - start_method: "fork" (copy-on-write from the template) or "spawn" (fresh interpreter).
    - spare_processes: processes started ahead and kept ready, so that a new user waits for
      the page, not for a process start (each costs its idle memory, ~4-5 MiB USS).
    - limit_mechanism: how memory_limit is enforced: "auto" (the best this machine offers:
      cgroup2, cgroup1, rlimit, watchdog, in that order; jobobject on Windows, its only
      one), or one of them by name.
    - portable: the process model of platforms without fork and unix sockets (Windows;
      default there, or with ``$HTAGWEB_PORTABLE=1``): user processes are fresh interpreters
      reached over loopback TCP with the template's secret, told why they end by frames
      instead of signals (see docs/guide/platforms.md). It implies start_method "spawn".
    - event_loop: the asyncio loop of the user processes: "auto" (uvloop where installed,
      as uvicorn chooses; ~10 % less CPU per click), "uvloop" (an error at the template's
      start if it is not installed) or "asyncio" (the standard loop, for an App that needs
      it).
    """

    lease_grace: float = 1.0
    restart_grace: float = field(default_factory=default_restart_grace)
    stop_grace: float = 2.0
    evict_after: float = 10.0
    start_method: str = field(default_factory=default_start_method)
    spare_processes: int = 4
    limit_mechanism: str = "auto"
    portable: bool = field(default_factory=default_portable)
    event_loop: str = "auto"

    def __post_init__(self) -> None:
        if not (self.restart_grace >= 0 and math.isfinite(self.restart_grace)):
            raise ValueError("restart_grace must be >= 0 seconds")
        if self.limit_mechanism not in LIMIT_MECHANISMS:
            raise ValueError(f"limit_mechanism must be one of {', '.join(LIMIT_MECHANISMS)}")
        if self.start_method not in ("fork", "spawn"):
            raise ValueError("start_method must be 'fork' or 'spawn'")
        if self.spare_processes < 0:
            raise ValueError("spare_processes must be >= 0")
        if self.event_loop not in ("auto", "asyncio", "uvloop"):
            raise ValueError("event_loop must be 'auto', 'asyncio' or 'uvloop'")
        if self.portable:  # fresh interpreters only: there may be no fork
            object.__setattr__(self, "start_method", "spawn")
        if self.start_method == "fork" and sys.platform == "win32":
            raise ValueError("fork is not available on this platform: use 'spawn'")
