"""The cluster's pieces that need no Redis and no network: settings, the link's proofs,
session stamps, Redis health, the node cookie, what a Redis outage tells the user."""

from __future__ import annotations

import logging

import pytest

from htagweb_asgi.cluster.settings import ClusterSettings, split_address
from htagweb_asgi.protocol.handshake import proof
from htagweb_asgi.redisclient import RedisHealth
from htagweb_asgi.sessions.core import Sessions
from htagweb_asgi.sessions.redisstore import Invalidations, session_name
from htagweb_asgi.web.failures import explain
from htagweb_asgi.web.pool import ClusterUnavailable
from tests.support.clock import FakeClock

URL = "redis://127.0.0.1:6379/0"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTAGWEB_REDIS_URL", raising=False)
    assert ClusterSettings.from_environment() is None
    monkeypatch.setenv("HTAGWEB_REDIS_URL", URL)
    with pytest.raises(ValueError, match="HTAGWEB_NODE_ADDRESS"):
        ClusterSettings.from_environment()
    monkeypatch.setenv("HTAGWEB_NODE_ADDRESS", "10.1.2.3:9100")
    monkeypatch.setenv("HTAGWEB_NODE", "web-1")
    monkeypatch.setenv("HTAGWEB_CLUSTER_MAX_PROCESSES", "500")
    settings = ClusterSettings.from_environment()
    assert settings is not None
    assert (settings.node, settings.address, settings.max_processes) == (
        "web-1",
        "10.1.2.3:9100",
        500,
    )
    assert settings.listen_on == "10.1.2.3:9100"


@pytest.mark.parametrize(
    "change",
    [
        {"node": "a b"},
        {"node": ""},
        {"address": "nohost"},
        {"address": "h:99999"},
        {"heartbeat": 0},
        {"node_ttl": 1.5},  # less than two heartbeats
        {"max_processes": -1},
    ],
)
def test_bad_settings_are_refused(change: dict[str, object]) -> None:
    values: dict[str, object] = {"redis_url": URL, "node": "a", "address": "h:1", **change}
    with pytest.raises(ValueError):
        ClusterSettings(**values)  # type: ignore[arg-type]


def test_addresses_split_with_ipv6() -> None:
    assert split_address("[::1]:9100") == ("::1", 9100)
    assert split_address("node-a:9100") == ("node-a", 9100)


def test_each_proof_binds_the_key_the_role_both_nonces_and_both_nodes() -> None:
    base = (b"k" * 32, "client", "n1", "n2", "a", "b")
    reference = proof(*base)
    assert proof(*base) == reference
    for index, other in enumerate((b"x" * 32, "server", "m1", "m2", "c", "d")):
        changed = list(base)
        changed[index] = other
        assert proof(*changed) != reference  # type: ignore[arg-type]


def test_stamps_move_with_the_published_writes_and_every_resubscription() -> None:
    stamps = Invalidations()
    name, other = session_name("s1"), session_name("s2")
    assert stamps.stamp(name) is None  # not subscribed yet: unknown, every click reads
    stamps.subscribed()
    first = stamps.stamp(name)
    assert first is not None and stamps.stamp(name) == first
    stamps.changed(name)
    assert stamps.stamp(name) != first
    second = stamps.stamp(name)
    stamps.subscribed()  # messages may have been lost meanwhile
    assert stamps.stamp(name) != second
    assert stamps.stamp(other) is not None


def test_a_redis_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    health = RedisHealth("redis://:hunter2@cache:6379/0", clock=clock)
    caplog.set_level(logging.INFO, "htagweb_asgi.redisclient")
    for _ in range(3):
        health.failed(ConnectionError("refused"))
    clock.advance(4)
    health.succeeded()
    health.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "does not answer" in messages[0] and "hunter2" not in messages[0]
    assert "answers again (after 4.0 s)" in messages[1]
    assert (health.outages, health.failures, health.up) == (1, 3, True)


def test_an_unreachable_cluster_is_a_503_that_asks_to_retry() -> None:
    failure = explain(ClusterUnavailable("Redis does not answer"), "app")
    assert failure.status == 503 and failure.retry_after is not None
    assert "retry" in failure.message


def test_sessions_default_to_redis_when_its_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTAGWEB_REDIS_URL", URL)
    store = Sessions(secret_key="k" * 32).store
    assert type(store).__name__ == "RedisStore" and store.blocking
