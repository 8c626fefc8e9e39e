"""What a worker tells the template it starts, and what the template tells a user process.

A leaf of the import graph on purpose: the worker side (web/pool.py, web/registry.py), the
template (proc/) and the operator's commands (protocol/control.py) all need these names,
and none of them may import the others' modules to get them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import DEFAULT_MAX_SESSION
from htagweb_asgi.protocol import portable as portable_path

CONTROL_SOCKET = "template.sock"  # in the App's runtime directory, next to the user sockets
SPARE_SLOTS = 2  # activity slots per allowed process: room for those still ending

# Entry points of the processes we start, run with ``python -m`` so that import graphs and
# refactoring tools see them.
TEMPLATE_MODULE = "htagweb_asgi.proc.template"
SPAWNED_USER_MODULE = "htagweb_asgi.proc.usermain"


@dataclass(frozen=True)
class TemplateConfig:
    """Everything the template of one App needs; JSON-serializable."""

    app: AppRef
    directory: str
    label: str  # what `python -m htagweb_asgi ps` shows: server and App path
    server_address: list[Any] | None  # where the server listens: [host, port] or [path, None]
    sys_path: list[str]
    debug: bool
    timeout_inactivity: float
    max_processes: int  # 0: sized to the machine when the template starts (capacity.py)
    max_frame: int
    max_session: int
    lease_grace: float
    restart_grace: float  # seconds processes are kept, once the server is gone, for a new one
    stop_grace: float
    evict_after: float
    start_method: str  # "fork" or "spawn"
    spare_processes: int  # started processes kept ready for the next new users
    log_level: int
    # admission control (options.Admission): per client address, and pages never attached
    new_process_burst: int = 20
    new_process_rate: float = 1.0
    client_share: float = 0.1
    unattached_timeout: float = 30.0
    max_websockets_per_page: int = 16
    memory_limit: int | None = None  # bytes each user process may add (None: no limit)
    cpu_limit: float | None = None  # CPU seconds per interaction (None: no limit)
    limit_mechanism: str = "auto"  # how memory_limit is enforced (see proc/limiter.py)
    portable: bool = False  # loopback TCP and spawned processes (protocol/portable.py)
    event_loop: str = "auto"  # the user processes' loop (proc/eventloop.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @property
    def control_name(self) -> str:
        """The file workers reach the template by: its socket, or its port and secret."""
        return portable_path.CONTROL_FILE if self.portable else CONTROL_SOCKET

    def key_file(self, key: str) -> str:
        """The file naming the process of `key`: its socket, or its port (portable)."""
        suffix = portable_path.SUFFIX if self.portable else ".sock"
        return os.path.join(self.directory, f"{key}{suffix}")

    @classmethod
    def from_json(cls, text: str) -> TemplateConfig:
        data: dict[str, Any] = json.loads(text)
        data["app"] = AppRef(**data["app"])
        return cls(**data)

    def process_settings(self) -> ProcessSettings:
        """What each user process of this App needs to know."""
        return ProcessSettings(
            self.debug,
            self.max_frame,
            self.max_session,
            self.max_websockets_per_page,
            self.cpu_limit,
            self.event_loop,
        )


@dataclass(frozen=True)
class ProcessSettings:
    """What a user process needs to know about its App's options."""

    debug: bool
    max_frame: int
    max_session: int = DEFAULT_MAX_SESSION
    max_websockets: int = 16  # subscribed connections (websockets, event streams) at once
    cpu_limit: float | None = None  # CPU seconds per interaction, re-armed at each one
    event_loop: str = "asyncio"  # resolved by the template: "asyncio" or "uvloop"
