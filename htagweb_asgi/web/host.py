"""HtagASGI: the pure ASGI3 application that serves htag Apps, one process per user."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Collection, Mapping
from typing import TYPE_CHECKING, Any

import anyio
from asgiref.typing import ASGI3Application, ASGIReceiveCallable, ASGISendCallable

from htagweb_asgi import appref, system
from htagweb_asgi.options import Admission, AppOptions, Limits, TemplateSettings
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.web.clientaddr import ClientAddresses
from htagweb_asgi.web.connections import OpenWebsockets
from htagweb_asgi.web.drain import Drain, observe_sigterm
from htagweb_asgi.web.failures import unavailable
from htagweb_asgi.web.health import serve_liveness, serve_readiness
from htagweb_asgi.web.http import refuse, send_ended, send_response
from htagweb_asgi.web.metrics import (
    DEFAULT_ALLOWED,
    networks,
    require_client_library,
    serve_metrics,
)
from htagweb_asgi.web.page import send_failure, serve_page
from htagweb_asgi.web.post import serve_post
from htagweb_asgi.web.readiness import Readiness
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.relay import Relay, serve_websocket
from htagweb_asgi.web.rotation import serve_new_cookie
from htagweb_asgi.web.routing import MountedApp, Route, RouteKind, Router, mount_point
from htagweb_asgi.web.services import Services
from htagweb_asgi.web.sse import serve_events
from htagweb_asgi.web.ssestream import EventStream
from htagweb_asgi.web.static import serve_script

if TYPE_CHECKING:
    from htagweb_asgi.cluster.node import Node
    from htagweb_asgi.cluster.settings import ClusterSettings

logger = logging.getLogger(__name__)


class HtagASGI:
    """Serve htag Apps over HTTP and websocket, each user's App in its own OS process.

    ``HtagASGI(App)`` serves `App` at the root of wherever it is mounted. `App` may be an htag
    ``Tag`` subclass, a module holding ``App``, or the string ``"module:App"``. More Apps and
    plain ASGI routes can be added with :meth:`add_app` and :meth:`add_route`.

    App options (each overridable per App in :meth:`add_app`): see :class:`AppOptions`.
    Host options:

    - sessions: the :class:`Sessions` (cookie, store, secret) to share with a framework's
      :class:`SessionMiddleware`; by default one made from the options below.
    - secret_key, cookie_name, secure_cookies: for that default Sessions (secret: else
      ``$HTAGWEB_SECRET_KEY``, else a key generated once in the state directory).
    - allowed_origins: origins besides this host allowed to open the websocket and to POST
      (``"*"`` turns the check off: don't).
    - frame_ancestors: the pages' CSP ``frame-ancestors`` (default ``'self'``; None: no header).
    - public_prefix: the public URL prefix when a proxy strips it without telling us.
    - runtime_dir: where the private per-App directories live (default ``$XDG_RUNTIME_DIR``
      or the temp dir).
    - max_body_size, max_frame_size, max_query_size, max_processes: see :class:`Limits`
      (max_processes: None sizes it to the machine's memory).
    - admission: per-client-address limits, trusted proxies, connections per page and
      session: see :class:`Admission` (its defaults are meant for the open internet).
    - template: see :class:`TemplateSettings` (among them ``restart_grace``: how long user
      processes wait for a restarted server to adopt them).
    - cluster: a :class:`~htagweb_asgi.cluster.settings.ClusterSettings` to run as one
      node of a cluster (default: from ``$HTAGWEB_REDIS_URL`` and friends; unset: one
      machine). Sessions then live in Redis, and the node needs the ASGI lifespan.
    - metrics: serve ``/_/metrics`` (Prometheus text format; needs the ``[metrics]`` extra),
      only to the networks in metrics_allow (default: loopback); 404 when off (the default).
    - drain_on_sigterm: on SIGTERM (observed beside the server's own handler), stop starting
      user processes, answer 503 on ``/_/readyz`` and tell the open pages to reconnect,
      spread over a few seconds (``drain()`` does the same on demand).

    Raises ValueError for a bad option, :class:`~htagweb_asgi.appref.AppImportError` for an
    App that cannot be referenced, :class:`~htagweb_asgi.parano.primitives.ParanoUnavailable` for
    ``parano=True`` on a machine without hardware AES (or without pynacl).
    """

    # Django Channels' URLRouter prefix-matches ``path("ui/", host)`` only for apps that say
    # they route the rest of the path themselves (as a nested URLRouter does).
    _path_routing = True

    def __init__(
        self,
        app: object | None = None,
        *,
        debug: bool = False,
        parano: bool = False,
        http_only: bool = False,
        timeout_interaction: float = 60.0,
        timeout_inactivity: float = 0.0,
        transport: str = "auto",
        sessions: Sessions | None = None,
        secret_key: str | bytes | None = None,
        cookie_name: str = "htagweb_session",
        secure_cookies: bool | None = None,
        allowed_origins: Collection[str] = (),
        frame_ancestors: str | None = "'self'",
        public_prefix: str | None = None,
        runtime_dir: str | None = None,
        max_body_size: int = Limits.max_body_size,
        max_frame_size: int = Limits.max_frame_size,
        max_query_size: int = Limits.max_query_size,
        max_processes: int | None = Limits.max_processes,
        admission: Admission | None = None,
        template: TemplateSettings | None = None,
        cluster: ClusterSettings | None = None,
        memory_limit: int | str | None = None,
        cpu_limit: float | None = None,
        drain_on_sigterm: bool = True,
        metrics: bool = False,
        metrics_allow: Collection[str] = DEFAULT_ALLOWED,
    ) -> None:
        self._defaults = AppOptions(
            debug,
            parano,
            http_only,
            timeout_interaction,
            timeout_inactivity,
            transport=transport,
            memory_limit=memory_limit,
            cpu_limit=cpu_limit,
        )
        self._drain_on_sigterm = drain_on_sigterm
        if metrics:
            require_client_library()
        self._metrics = metrics
        self._metrics_allow = networks(metrics_allow)
        _check_parano(self._defaults)
        self._limits = Limits(max_body_size, max_frame_size, max_query_size, max_processes)
        self._router = Router()
        self._sessions = sessions or Sessions(
            secret_key=secret_key,
            cookie_name=cookie_name,
            secure=secure_cookies,
            runtime_dir=runtime_dir,
        )
        if self._sessions.runtime_dir is None:  # logout must find our processes where they are
            self._sessions.runtime_dir = runtime_dir
        self._allowed_origins = frozenset(allowed_origins)
        self._frame_ancestors = frame_ancestors
        self._public_prefix = public_prefix.rstrip("/") if public_prefix is not None else None
        self._runtime_dir = runtime_dir
        self._template = template or TemplateSettings()
        self._admission = admission or Admission()
        self._services: Services | None = None
        self._cluster = cluster or _cluster_from_environment()
        self._node: Node | None = None
        if self._cluster is not None and not self._sessions.store_given:
            self._sessions.use_store(self._cluster.session_store())
        if app is not None:
            self.add_app("/", app)

    # -- configuration ---------------------------------------------------------------------------
    def add_app(self, path: str, app: object, **overrides: Any) -> None:
        """Serve `app` at `path` (e.g. ``"/admin"``), with per-App `overrides` of the options.

        Raises ValueError for a bad or taken path, TypeError for an unknown option,
        ParanoUnavailable for ``parano=True`` where it cannot work.
        """
        base = Router.normalize(path)
        if base in self._router.apps:
            raise ValueError(f"an App is already served at {path!r}")
        options = self._defaults.with_overrides(**overrides)
        _check_parano(options)
        self._router.apps[base] = MountedApp(base, appref.resolve(app), options)

    def app_options(self, path: str = "/") -> AppOptions:
        """The options of the App served at `path` (its defaults with add_app's overrides).

        Raises ValueError for a bad path, KeyError when no App is served there.
        """
        base = Router.normalize(path)
        if base not in self._router.apps:
            raise KeyError(f"no App is served at {path!r}")
        return self._router.apps[base].options

    def add_route(self, path: str, endpoint: ASGI3Application | Any) -> None:
        """Serve the ASGI app `endpoint` at exactly `path` (htagweb's ``add_route``).

        Any ASGI callable works, e.g. a Starlette ``PlainTextResponse("body {}")``; it gets the
        request's scope unchanged.
        """
        if not path.startswith("/") or path.startswith("/_/"):
            raise ValueError(f"bad route path {path!r}: must start with '/' and not with '/_/'")
        self._router.extras[path] = endpoint

    # -- ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Any: Starlette types an ASGI app with MutableMapping scopes, asgiref with
        # TypedDicts, and neither accepts the other's; both accept this.
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] not in ("http", "websocket"):
            return  # not ours to serve (ASGI says: ignore unknown protocols)
        services = self._ensure_started()
        prefix, sub = mount_point(scope)
        route = self._router.match(sub)
        if route.kind in _PROBES:
            await self._probe(services, route, scope, send)
            return
        if route.app is not None and await services.readiness.check():
            await self._unavailable(route, route.app, scope, receive, send)
            return
        if scope["type"] == "http":
            await self._http(services, route, scope, receive, send, prefix, sub)
        else:
            await self._websocket(services, route, scope, receive, send)

    async def _http(
        self,
        services: Services,
        route: Route,
        scope: Mapping[str, Any],
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        prefix: str,
        sub: str,
    ) -> None:
        if route.kind is RouteKind.PAGE and route.app is not None:
            await serve_page(services, route.app, scope, send, prefix, sub)
        elif route.kind is RouteKind.POST and route.app is not None:
            await serve_post(services, route.app, scope, receive, send, prefix)
        elif route.kind is RouteKind.EVENTS and route.app is not None:
            await serve_events(services, route.app, scope, receive, send)
        elif route.kind is RouteKind.SESSION and route.app is not None:
            await serve_new_cookie(services, scope, receive, send, prefix)
        elif route.kind is RouteKind.CLIENT:
            await serve_script(route.script, scope, send)
        elif route.kind is RouteKind.EXTRA:
            await route.extra(scope, receive, send)
        elif route.kind is RouteKind.REDIRECT:
            await _redirect_to_slash(scope, send, prefix)
        else:
            logger.info("404 for %s %r", scope.get("method"), scope.get("path"))
            await send_response(send, 404, b"not found")

    async def _websocket(
        self,
        services: Services,
        route: Route,
        scope: Mapping[str, Any],
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
    ) -> None:
        if route.kind is RouteKind.WEBSOCKET and route.app is not None:
            await serve_websocket(services, route.app, scope, receive, send)
        elif route.kind is RouteKind.EXTRA:
            await route.extra(scope, receive, send)
        else:
            await receive()  # websocket.connect
            await refuse(scope, send, 404, "no websocket here")

    async def _probe(
        self, services: Services, route: Route, scope: Mapping[str, Any], send: ASGISendCallable
    ) -> None:
        """healthz, readyz (see health.py): HTTP only; a websocket to them is refused."""
        if scope["type"] != "http":
            await refuse(scope, send, 404, "no websocket here")
        elif route.kind is RouteKind.HEALTH:
            await serve_liveness(scope, send)
        elif route.kind is RouteKind.METRICS:
            if not self._metrics:
                await send_response(send, 404, b"not found")
                return
            apps = list(self._router.apps.values())
            await serve_metrics(services, apps, scope, send, self._metrics_allow)
        else:
            apps = [route.app] if route.app is not None else list(self._router.apps.values())
            await serve_readiness(services, apps, scope, send)

    async def _unavailable(
        self,
        route: Route,
        app: MountedApp,
        scope: Mapping[str, Any],
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
    ) -> None:
        """The startup checks failed (logged with what to change): say so, in each transport."""
        services = self._ensure_started()
        failure = unavailable(services.readiness.problem or "")
        services.stats(app, scope).count("refusals", failure.refusal)
        if scope["type"] == "websocket":
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
                relay = Relay(receive, send, timeout=1.0, max_frame=1)
                await relay.refuse(failure.code, failure.text(app.options.debug))
        elif scope.get("method") == "POST":
            await send_ended(send, failure.status, failure.code, failure.text(app.options.debug))
        elif route.kind is RouteKind.EVENTS and app.options.event_stream:
            stream = EventStream(send, sealed=app.options.parano)  # the page reads its close
            await stream.start()
            await stream.close(failure.code, failure.text(app.options.debug))
        else:
            await send_failure(services, send, failure, app.options.debug)

    # -- lifecycle ------------------------------------------------------------------------------
    def _ensure_started(self) -> Services:
        """Build what requests need, once per worker process (lifespan may never come)."""
        if self._services is None:
            if not self._router.apps and not self._router.extras:
                raise RuntimeError("HtagASGI serves nothing: give an App or call add_app()")
            system.raise_fd_limit()  # a websocket holds two descriptors here
            max_session = self._sessions.max_size
            self._node = _join(self._cluster, self._sessions, self._runtime_dir)
            node = self._node.settings.node if self._node is not None else None
            admission = self._admission
            drain = Drain()
            pools = PoolRegistry(
                self._runtime_dir,
                self._limits,
                self._template,
                max_session,
                admission,
                node,
                draining=lambda: drain.draining,
            )
            extra = self._node.problem if self._node is not None else None
            self._services = Services(
                self._sessions,
                self._limits,
                pools,
                Readiness(self._sessions, self._runtime_dir, extra=extra),
                self._public_prefix,
                drain,
                self._allowed_origins,
                self._frame_ancestors,
                self._node,
                admission,
                ClientAddresses(admission.trusted_proxies, admission.forwarded_header),
                OpenWebsockets(admission.max_websockets_per_session),
            )
            if self._drain_on_sigterm:
                observe_sigterm(lambda: drain.begin("SIGTERM"))
        return self._services

    # -- cluster ---------------------------------------------------------------------------------
    def _pool_at(self, services: Services, name: str) -> Any:
        """The local pool of the App mounted at `name` (for the cluster's link), or None."""
        app = self._router.apps.get("" if name == "/" else name)
        if app is None or self._node is None:
            return None
        return services.pools.pool(app, {"server": self._node.link_address})

    async def _run_node(self, started: anyio.Event) -> None:
        """Run the cluster node (if any) until cancelled."""
        services = self._ensure_started()
        node = self._node
        started.set()
        if node is not None:
            await node.run(lambda name: self._pool_at(services, name))

    def drain(self, reason: str = "asked") -> None:
        """Drain this worker, as SIGTERM does: no new user process, ``/_/readyz`` answers
        503, and every open page is told to reconnect (spread over a few seconds). Call it
        from the worker's event loop (e.g. a framework's shutdown hook or an admin route)."""
        if self._services is not None:
            self._services.drain.begin(reason)

    @property
    def started(self) -> bool:
        """Whether this worker is ready to serve (started by lifespan or a first request)."""
        return self._services is not None

    async def startup(self) -> None:
        """Prepare to serve (for frameworks that do not pass lifespan to mounted apps), and
        check the configuration now: a problem is logged at once (and served as a 503).

        A cluster node does not start here: it needs :meth:`lifespan` (or the server's)."""
        await self._ensure_started().readiness.check()

    async def shutdown(self) -> None:
        """Release this worker's hold on the user processes; when the last worker of a server
        shuts down, each App's template stops its processes (SIGTERM, grace, SIGKILL)."""
        services, self._services = self._services, None
        if services is not None:
            services.drain.begin("shutdown")
            await services.pools.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """``FastAPI(lifespan=ui.lifespan)``, ``Litestar(lifespan=[ui.lifespan])``...

        A cluster node runs its heartbeat, messages and link inside it."""
        async with anyio.create_task_group() as tasks:
            started = anyio.Event()
            tasks.start_soon(self._run_node, started)
            await started.wait()
            await self.startup()
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                await self.shutdown()

    async def _lifespan(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        async with anyio.create_task_group() as tasks:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        started = anyio.Event()
                        tasks.start_soon(self._run_node, started)
                        await started.wait()
                        await self.startup()
                    except Exception as exc:
                        logger.exception("startup failed")
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        tasks.cancel_scope.cancel()
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    tasks.cancel_scope.cancel()
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    # -- standalone ---------------------------------------------------------------------------
    def run(self, host: str = "127.0.0.1", port: int = 8000, **uvicorn_options: Any) -> None:
        """Serve with uvicorn in this process (``pip install 'htagweb-asgi[server]'``).

        For several workers use the command line: ``python -m htagweb_asgi module:App -w 4``.
        With a ``parano`` App, websocket compression is off unless asked for: ciphertext
        does not compress, trying costs time on every message.
        """
        from htagweb_asgi.web.server import serve

        if any(app.options.parano for app in self._router.apps.values()):
            uvicorn_options.setdefault("ws_per_message_deflate", False)
        serve(self, host=host, port=port, debug=self._defaults.debug, **uvicorn_options)


def _cluster_from_environment() -> ClusterSettings | None:
    """A cluster node's settings when $HTAGWEB_REDIS_URL is set (cluster/settings.py)."""
    if not os.environ.get("HTAGWEB_REDIS_URL"):
        return None  # one machine: no cluster code loaded
    from htagweb_asgi.cluster.settings import ClusterSettings

    return ClusterSettings.from_environment()


def _join(
    settings: ClusterSettings | None, sessions: Sessions, runtime_dir: str | None
) -> Node | None:
    if settings is None:
        return None
    from htagweb_asgi.cluster.node import Node

    return Node.joining(settings, sessions, runtime_dir)


_PROBES = (RouteKind.HEALTH, RouteKind.READY, RouteKind.METRICS)


def _check_parano(options: AppOptions) -> None:
    """Refuse parano=True at once where it cannot work (ParanoUnavailable says why)."""
    if options.parano:
        from htagweb_asgi.parano.primitives import require_aes_gcm

        require_aes_gcm()


async def _redirect_to_slash(scope: Mapping[str, Any], send: ASGISendCallable, prefix: str) -> None:
    """The mount point without its slash: redirect relatively (``ui/``), which stays right
    behind a proxy that strips a prefix we do not know."""
    target = prefix.rsplit("/", 1)[-1] + "/"
    query = scope.get("query_string", b"")
    location = target + ("?" + query.decode("latin-1") if query else "")
    await send_response(send, 307, b"", headers=[(b"location", location.encode("latin-1"))])
