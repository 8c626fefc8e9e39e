"""``/_/metrics``: the Prometheus text format (``HtagASGI(..., metrics=True)``), answered
only to the configured networks (loopback by default), 403 to others.

The data lives where it is made, and is aggregated there: each App's template knows its
processes (states, starts, ends by reason, limits reached, memory) and sums the series
that every worker of its server counts in a shared file (protocol/series.py), so any worker
answers for all of them, and a restarted worker's counts are not lost. The exposition is
prometheus_client's (the ``[metrics]`` extra); the series are listed in docs/guide/operating.md.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from asgiref.typing import ASGISendCallable

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol import series
from htagweb_asgi.web.http import send_response
from htagweb_asgi.web.routing import MountedApp
from htagweb_asgi.web.services import Services

logger = logging.getLogger(__name__)

DEFAULT_ALLOWED = ("127.0.0.0/8", "::1/128")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HELP = {
    "pages": "Pages served, by whether a new user process was started for them",
    "page_errors": "Pages that could not be served (an error page instead)",
    "interactions": "Interactions relayed to user processes, by transport",
    "pushes": "tag.update() pushes relayed to pages",
    "reconnects": "Websockets opened again by a page after losing its connection",
    "refusals": "Requests refused, by reason (429, 503, origin, CSRF, size)",
    "new_user_page_seconds": "Time to serve the page of a new user (process start included)",
    "interaction_seconds": "Interaction round trip, worker to user process and back",
}


def require_client_library() -> None:
    """Raise ImportError, saying what to install, when prometheus_client is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "metrics=True needs prometheus_client: pip install 'htagweb-asgi[metrics]'"
        ) from exc


def networks(allowed: Collection[str]) -> list[Network]:
    """The allowed networks (ValueError for one that is not an address or network)."""
    return [ipaddress.ip_network(net, strict=False) for net in allowed]


def client_allowed(scope: Mapping[str, Any], allowed: list[Network]) -> bool:
    client = scope.get("client")
    if not client:
        return False  # a unix socket: behind a proxy, everyone's requests look like this
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in allowed)


async def serve_metrics(
    services: Services,
    apps: list[MountedApp],
    scope: Mapping[str, Any],
    send: ASGISendCallable,
    allowed: list[Network],
) -> None:
    if scope.get("method") not in ("GET", "HEAD"):
        await send_response(send, 405, b"method not allowed", headers=[(b"allow", b"GET, HEAD")])
        return
    if not client_allowed(scope, allowed):
        logger.info("refused /_/metrics to %s", (scope.get("client") or ["?"])[0])
        await send_response(send, 403, b"metrics are not served to this address")
        return
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    snapshots = []
    for app in apps:
        try:
            snapshot = await services.pools.pool(app, scope).metrics()
        except HtagwebError as exc:
            logger.warning("no metrics from the template of %s: %s", app.identity, exc)
            snapshot = None
        snapshots.append((app.base or "/", snapshot))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(snapshots))
    body = generate_latest(registry)
    headers = [(b"cache-control", b"no-store")]
    head = scope.get("method") == "HEAD"
    await send_response(
        send, 200, body, content_type=CONTENT_TYPE_LATEST, headers=headers, head=head
    )


class _Snapshot:
    """A prometheus_client collector over the templates' answers of one scrape."""

    def __init__(self, snapshots: list[tuple[str, dict[str, Any] | None]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        up = GaugeMetricFamily(
            "htagweb_template_up", "1: the App's template runs and its code loads", labels=["app"]
        )
        workers = GaugeMetricFamily(
            "htagweb_template_workers",
            "Server workers holding a lease on the template",
            labels=["app"],
        )
        states = GaugeMetricFamily(
            "htagweb_user_processes", "Live user processes, by state", labels=["app", "state"]
        )
        started = CounterMetricFamily(
            "htagweb_user_processes_started", "User processes given to a user", labels=["app"]
        )
        ended = CounterMetricFamily(
            "htagweb_user_processes_ended",
            "User processes ended, by reason",
            labels=["app", "reason"],
        )
        limits = CounterMetricFamily(
            "htagweb_limit_reached",
            "User processes ended at their memory or CPU limit",
            labels=["app", "limit"],
        )
        pss = GaugeMetricFamily(
            "htagweb_user_processes_pss_bytes",
            "Proportional set size of the App's processes, summed",
            labels=["app"],
        )
        families = {
            name: CounterMetricFamily(
                f"htagweb_{name}", HELP[name], labels=["app", *([label] if label else [])]
            )
            for name, label, _values in series.COUNTERS
        }
        histograms = {
            name: HistogramMetricFamily(f"htagweb_{name}", HELP[name], labels=["app"])
            for name in series.HISTOGRAMS
        }
        for app, snapshot in self.snapshots:
            up.add_metric([app], 1.0 if snapshot and snapshot.get("loaded") else 0.0)
            if snapshot is None:
                continue
            workers.add_metric([app], snapshot["workers"])
            for state, count in snapshot["processes"].items():
                states.add_metric([app, state.replace(" ", "_")], count)
            started.add_metric([app], snapshot["started"])
            for reason, count in snapshot["ended"].items():
                ended.add_metric([app, reason], count)
            for limit, count in snapshot["limits"].items():
                limits.add_metric([app, limit], count)
            pss.add_metric([app], snapshot["pss"])
            _workers_series(app, snapshot["series"], families, histograms)
        yield from (up, workers, states, started, ended, limits, pss)
        yield from families.values()
        yield from histograms.values()


def _workers_series(
    app: str, values: list[float], families: dict[str, Any], histograms: dict[str, Any]
) -> None:
    if len(values) != series.SIZE:
        return  # a template of another version: its layout is not ours
    for name, label, label_values in series.COUNTERS:
        for value in label_values:
            families[name].add_metric(
                [app, *([value] if label else [])], values[series.LAYOUT[f"{name}:{value}"]]
            )
    for name in series.HISTOGRAMS:
        cumulative, buckets = 0.0, []
        for bound in (*series.BUCKETS, float("inf")):
            cumulative += values[series.LAYOUT[f"{name}:le={bound}"]]
            buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
        histograms[name].add_metric([app], buckets, values[series.LAYOUT[f"{name}:sum"]])
