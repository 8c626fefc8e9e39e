"""This worker's process pools: one per (App, server), created on first use."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from htagweb_asgi import paths
from htagweb_asgi.options import DEFAULT_MAX_SESSION, Admission, Limits, TemplateSettings
from htagweb_asgi.protocol.config import TemplateConfig
from htagweb_asgi.web.pool import ProcessPool
from htagweb_asgi.web.routing import MountedApp

logger = logging.getLogger(__name__)

_JSON_GROWTH = 6  # a character JSON-escaped again may take 6 ("\u001f")
_FRAME_SLACK = 4096  # the JSON around a payload (keys, brackets) and the kind byte


def process_frame_limit(limits: Limits, max_session: int) -> int:
    """The largest frame a user process accepts from the host: whatever the network may send
    within our limits (a websocket message, a POST body), or a SESSION or PAGE frame, which
    carry JSON texts escaped once more. The limits proper are enforced in the worker,
    where a message over them gets its 1009 or 413: the process must never be stricter."""
    session = _JSON_GROWTH * max_session
    query = _JSON_GROWTH * limits.max_query_size
    largest = max(limits.max_frame_size, limits.max_body_size, session, query)
    return largest + _FRAME_SLACK


class PoolRegistry:
    """One ProcessPool per (App, server) in this worker, created on first use."""

    def __init__(
        self,
        base_dir: str | None,
        limits: Limits,
        settings: TemplateSettings,
        max_session: int = DEFAULT_MAX_SESSION,
        admission: Admission | None = None,
        node: str | None = None,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self._draining = draining  # while true, no pool starts a user process
        self._base_dir = base_dir
        # in a cluster, the node's pools are shared by its server and its link (gateway.py)
        self._server = f"node:{node}" if node is not None else None
        self._limits = limits
        self._settings = settings
        self._max_session = max_session
        self._admission = admission or Admission()
        self._pools: dict[tuple[str, str], ProcessPool] = {}

    def pool(self, app: MountedApp, scope: Mapping[str, Any]) -> ProcessPool:
        server = self._server or paths.server_identity(scope)
        pool = self._pools.get((app.base, server))
        if pool is None:
            address = scope.get("server")
            pool = self._create(app, server, list(address) if address else None)
            self._pools[(app.base, server)] = pool
        return pool

    def _create(self, app: MountedApp, server: str, address: list[Any] | None) -> ProcessPool:
        base = self._base_dir or paths.default_base()
        paths.check_base(base)
        config = self._template_config(app, base, server, address)
        timeout = app.options.timeout_interaction
        return ProcessPool(app.ref, config.directory, config, timeout, self._draining)

    def _template_config(
        self, app: MountedApp, base: str, server: str, address: list[Any] | None
    ) -> TemplateConfig:
        options = app.options
        admission = self._admission
        # A new server with the same fingerprint adopts the running template and processes
        # (a restart); other options make another directory, hence another template.
        # restart_grace is left out: a deploy that changes it still adopts the processes.
        settings = replace(self._settings, restart_grace=0.0)
        fingerprint = (
            f"{options.debug}:{options.timeout_inactivity}:{options.memory_limit}:"
            f"{options.cpu_limit}:{self._limits}:{settings}:{admission}"
        )
        return TemplateConfig(
            app=app.ref,
            directory=paths.app_directory(base, server, app.identity, fingerprint),
            label=f"{server} {app.base or '/'}",
            server_address=address,
            sys_path=list(sys.path),
            debug=options.debug,
            timeout_inactivity=options.timeout_inactivity,
            max_processes=self._limits.max_processes or 0,
            max_frame=process_frame_limit(self._limits, self._max_session),
            max_session=self._max_session,
            lease_grace=self._settings.lease_grace,
            restart_grace=self._settings.restart_grace,
            stop_grace=self._settings.stop_grace,
            evict_after=self._settings.evict_after,
            start_method=self._settings.start_method,
            spare_processes=self._settings.spare_processes,
            log_level=logging.getLogger("htagweb_asgi").getEffectiveLevel(),
            new_process_burst=admission.new_process_burst,
            new_process_rate=admission.new_process_rate,
            client_share=admission.client_share,
            unattached_timeout=admission.unattached_timeout,
            max_websockets_per_page=admission.max_websockets_per_page,
            memory_limit=options.memory_bytes,
            cpu_limit=options.cpu_limit,
            limit_mechanism=self._settings.limit_mechanism,
            portable=self._settings.portable,
            event_loop=self._settings.event_loop,
        )

    def pools(self) -> list[ProcessPool]:
        """The pools this worker has made (for the metrics)."""
        return list(self._pools.values())

    async def close(self) -> None:
        """Drop this worker's leases (the templates stop when no worker holds one)."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()
