"""The metrics without servers: a worker's counters in its file, the template's sum over
workers (the gone ones kept), and the exposition as prometheus_client's parser reads it."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from htagweb_asgi.proc.workerfiles import WorkerFiles
from htagweb_asgi.protocol import series
from htagweb_asgi.web.drain import Drain, observe_sigterm
from htagweb_asgi.web.metrics import _Snapshot, client_allowed, networks
from htagweb_asgi.web.workerstats import WorkerStats


def test_a_worker_counts_in_its_file_and_the_template_sums_every_worker(tmp_path: Path) -> None:
    stats = WorkerStats()
    stats.count("pages", "new")  # before the template runs: kept, then written to the file
    stats.attach(str(tmp_path))
    stats.count("interactions", "websocket", 2)
    stats.observe("interaction_seconds", 0.02)
    stats.observe("interaction_seconds", 60.0)
    gone = tmp_path / series.file_name(2**22 + 12345)  # a worker that ended (no such pid)
    gone.write_bytes((tmp_path / series.file_name(os.getpid())).read_bytes())
    files = WorkerFiles(str(tmp_path))
    total = files.collect()
    assert total[series.LAYOUT["pages:new"]] == 2  # ours and the gone worker's
    assert total[series.LAYOUT["interactions:websocket"]] == 4
    assert total[series.LAYOUT["interaction_seconds:le=0.025"]] == 2
    assert total[series.LAYOUT["interaction_seconds:le=inf"]] == 2
    assert not gone.exists()  # folded into the template's totals
    stats.count("pushes")
    again = files.collect()
    assert again[series.LAYOUT["pages:new"]] == 2 and again[series.LAYOUT["pushes:"]] == 1
    files.remove_all()
    assert os.listdir(tmp_path) == []


def exposition(
    snapshot: dict[str, Any] | None,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot([("/", snapshot)]))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_exposition_parses_with_cumulative_buckets() -> None:
    values = [0.0] * series.SIZE
    values[series.LAYOUT["interaction_seconds:le=0.005"]] = 1
    values[series.LAYOUT["interaction_seconds:le=1.0"]] = 2
    values[series.LAYOUT["interaction_seconds:sum"]] = 1.5
    values[series.LAYOUT["interaction_seconds:count"]] = 3
    snapshot = {
        "loaded": True,
        "workers": 2,
        "processes": {"spare": 4, "never attached": 1},
        "started": 5,
        "ended": {"limit": 1},
        "limits": {"memory": 1},
        "pss": 123,
        "series": values,
    }
    found = exposition(snapshot)
    assert found[("htagweb_interaction_seconds_bucket", (("app", "/"), ("le", "1.0")))] == 3
    assert found[("htagweb_interaction_seconds_bucket", (("app", "/"), ("le", "+Inf")))] == 3
    assert found[("htagweb_user_processes", (("app", "/"), ("state", "never_attached")))] == 1
    assert found[("htagweb_user_processes_ended_total", (("app", "/"), ("reason", "limit")))] == 1
    assert found[("htagweb_template_up", (("app", "/"),))] == 1
    assert exposition(None)[("htagweb_template_up", (("app", "/"),))] == 0  # not started


def test_only_the_allowed_networks_get_the_metrics() -> None:
    allowed = networks(["127.0.0.1/32", "10.0.0.0/8"])
    assert client_allowed({"client": ("127.0.0.1", 5)}, allowed)
    assert client_allowed({"client": ("10.1.2.3", 5)}, allowed)
    assert not client_allowed({"client": ("127.0.0.2", 5)}, allowed)
    assert not client_allowed({"client": None}, allowed)  # a unix socket: a proxy's, maybe
    assert not client_allowed({"client": ("not an address", 5)}, allowed)
    with pytest.raises(ValueError):
        networks(["everyone"])


@pytest.mark.anyio
async def test_sigterm_starts_the_drain_and_still_reaches_the_servers_handler() -> None:
    seen: list[int] = []
    original = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        drain = Drain()
        assert observe_sigterm(lambda: drain.begin("SIGTERM"))
        signal.raise_signal(signal.SIGTERM)
        with anyio.fail_after(5):
            await drain.wait()
        assert seen == [signal.SIGTERM] and drain.reason == "SIGTERM"
    finally:
        signal.signal(signal.SIGTERM, original)
