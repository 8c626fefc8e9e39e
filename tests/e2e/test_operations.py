"""What an operator relies on, with real servers: the probes (healthz starts nothing),
the metrics (parsed by prometheus_client's own parser, moving when users click, the same
whichever of several workers answers), and who may read them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import Visitor, click, updated_text
from tests.support.servers import ROOT, Server, our_processes, start_server
from tests.support.waiting import eventually, eventually_async

pytestmark = pytest.mark.anyio

METERED = "tests.support.apps.hosts:metered"


@pytest.fixture(scope="module")
def metered(logs: Path) -> Iterator[tuple[Server, str]]:
    """The metered host under gunicorn with 4 workers, in a runtime of its own."""
    runtime = tempfile.mkdtemp(prefix="hw-")
    server = start_server("gunicorn-4", METERED, runtime, logs)
    yield server, runtime
    server.close()
    eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
    shutil.rmtree(runtime, ignore_errors=True)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels, as prometheus_client parses it."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(server: Server, **labels: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    # a new connection each time: with 4 workers, any of them may answer
    response = httpx.get(server.url + "/_/metrics", headers={"connection": "close"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    """A sample's value; 0 for one not there (an App whose template does not run yet)."""
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_hit_50_times_starts_no_process(logs: Path) -> None:
    runtime = tempfile.mkdtemp(prefix="hw-")
    server = start_server("uvicorn", METERED, runtime, logs)
    try:
        for path in ("/_/healthz", "/hog/_/healthz") * 25:
            response = httpx.get(server.url + path, headers={"connection": "close"})
            assert (response.status_code, response.text) == (200, "ok\n")
            assert response.headers["cache-control"] == "no-store"
        assert our_processes(runtime) == []  # not even a template
        assert httpx.head(server.url + "/_/healthz").status_code == 200
        ready = httpx.get(server.url + "/hog/_/readyz")
        assert (ready.status_code, ready.text) == (200, "ready\n")  # the App's template runs
        assert httpx.get(server.url + "/nope/_/healthz").status_code == 404
    finally:
        server.close()
        eventually(lambda: not our_processes(runtime), 10, message="processes left behind")
        shutil.rmtree(runtime, ignore_errors=True)


async def test_the_metrics_parse_and_move_when_users_click(metered: tuple[Server, str]) -> None:
    server, _ = metered
    before = scrape(server)
    visitor = Visitor(server.url)
    page = await visitor.page()
    async with visitor.websocket(page) as ws:
        for n in (1, 2, 3):
            assert updated_text(await click(ws, page, "inc")) == [str(n)]
    await visitor.aclose()
    clicks = {"app": "/", "transport": "websocket"}
    # A worker leases the template at its first request for the App (a metrics scrape is
    # one): which workers the requests above reached is the kernel's choice, so scrape
    # until a second worker holds a lease.
    await eventually_async(
        lambda: value(scrape(server), "htagweb_template_workers", app="/") >= 2,
        20,
        message="no second worker ever reported its lease on the template",
    )
    for _ in range(8):  # whichever worker answers, it reports every worker's counts
        after = scrape(server)
        moved = value(after, "htagweb_interactions_total", **clicks) - value(
            before, "htagweb_interactions_total", **clicks
        )
        assert moved == 3
        new_pages = value(after, "htagweb_pages_total", app="/", process="new")
        assert new_pages == value(before, "htagweb_pages_total", app="/", process="new") + 1
        assert value(after, "htagweb_user_processes", app="/", state="attached") >= 1
        assert value(after, "htagweb_interaction_seconds_count", app="/") >= 3
        assert value(after, "htagweb_template_workers", app="/") >= 2
        assert value(after, "htagweb_user_processes_pss_bytes", app="/") > 0


def test_the_metrics_are_only_for_the_allowed_addresses(metered: tuple[Server, str]) -> None:
    server, _ = metered
    transport = httpx.HTTPTransport(local_address="127.0.0.2")  # another machine, as it were
    with httpx.Client(transport=transport) as elsewhere:
        response = elsewhere.get(server.url + "/_/metrics")
    assert response.status_code == 403
    assert "htagweb" not in response.text


def prometheus_binary() -> str | None:
    """Debian's prometheus: installed, or unpacked into .cache by scripts/test.sh."""
    unpacked = ROOT / ".cache" / "prometheus" / "usr" / "bin" / "prometheus"
    return shutil.which("prometheus") or (str(unpacked) if unpacked.exists() else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_real_prometheus_server_scrapes_it(metered: tuple[Server, str], tmp_path: Path) -> None:
    binary = prometheus_binary()
    if binary is None:
        pytest.skip("Debian's prometheus is not available (scripts/test.sh unpacks it into .cache)")
    server, _ = metered
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: htagweb\n"
        "    metrics_path: /_/metrics\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    port = free_port()
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:

        def scraped() -> bool:
            query = "htagweb_template_up"
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query})
            except httpx.TransportError:
                return False  # not listening yet
            return reply.status_code == 200 and bool(reply.json()["data"]["result"])

        try:
            eventually(scraped, 30, message="prometheus did not scrape /_/metrics in 30 s")
        except AssertionError:
            raise AssertionError((tmp_path / "prometheus.log").read_text()[-3000:]) from None
        targets = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets").json()
        [target] = targets["data"]["activeTargets"]
        assert target["health"] == "up", target  # every line of our exposition was accepted
    finally:
        process.terminate()
        process.wait(15)
        log.close()
