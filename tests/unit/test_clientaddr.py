"""The client address admission control counts: the peer, or what a trusted proxy says."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from htagweb_asgi.options import Admission
from htagweb_asgi.web.clientaddr import ClientAddresses


def scope(peer: str | None, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 1234) if peer is not None else None,
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }


def of(peer: str | None, *headers: tuple[str, str], trusted: Sequence[str] = (), **kw: str) -> str:
    return ClientAddresses(trusted, **kw).of(scope(peer, *headers))


def test_the_peer_itself_without_trusted_proxies() -> None:
    assert of("203.0.113.7") == "203.0.113.7"
    assert of("203.0.113.7", ("x-forwarded-for", "198.51.100.1")) == "203.0.113.7"  # spoof


def test_a_header_from_an_untrusted_peer_is_ignored_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolver = ClientAddresses(["10.0.0.1"])
    with caplog.at_level(logging.WARNING, logger="htagweb_asgi.web.clientaddr"):
        for _ in range(3):
            request = scope("127.0.0.1", ("x-forwarded-for", "198.51.100.1"))
            assert resolver.of(request) == "127.0.0.1"
        resolver.of(scope("10.9.9.9", ("x-forwarded-for", "198.51.100.1")))  # once per worker
        fresh = ClientAddresses()
        fresh.of(scope("8.8.8.8", ("x-forwarded-for", "198.51.100.1")))  # a public peer
    [warning] = caplog.records
    assert "127.0.0.1 is not among the trusted_proxies" in warning.getMessage()


def test_a_trusted_proxy_names_the_client_from_the_right() -> None:
    trusted = ["10.0.0.0/8"]
    chain = ("x-forwarded-for", "1.2.3.4, 198.51.100.9, 10.1.1.1")
    # 1.2.3.4 was written by the client itself: the first untrusted hop from the right wins
    assert of("10.0.0.2", chain, trusted=trusted) == "198.51.100.9"
    assert of("10.0.0.2", trusted=trusted) == "10.0.0.2"  # no header: the proxy itself
    only_proxies = ("x-forwarded-for", "10.9.9.9, 10.1.1.1")
    assert of("10.0.0.2", only_proxies, trusted=trusted) == "10.9.9.9"


def test_several_header_lines_are_one_list() -> None:
    lines = (("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.9"))
    assert of("10.0.0.2", *lines, trusted=["10.0.0.2"]) == "198.51.100.9"


def test_rfc_7239_forwarded_when_that_is_the_proxys_header() -> None:
    header = ("forwarded", 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https')
    spoof = ("x-forwarded-for", "5.5.5.5")
    got = of("10.0.0.2", header, spoof, trusted=["10.0.0.2"], forwarded_header="forwarded")
    assert got == "2001:db8:cafe::/64"


def test_ipv6_counts_by_64_network_and_mapped_ipv4_as_ipv4() -> None:
    assert of("2001:db8::1") == of("2001:db8::ffff:1") == "2001:db8::/64"
    assert of("2001:db8:0:1::1") == "2001:db8:0:1::/64"
    assert of("::ffff:192.0.2.1") == "192.0.2.1"


def test_unix_socket_peers_and_garbage() -> None:
    assert of(None) == "unix"
    assert of("") == "unix"
    assert of(None, ("x-forwarded-for", "198.51.100.1"), trusted=["unix"]) == "198.51.100.1"
    assert of("10.0.0.2", ("x-forwarded-for", "not an address"), trusted=["10.0.0.2"]) == (
        "unknown"
    )
    assert of("testclient") == "unknown"
    assert of("10.0.0.2", ("x-forwarded-for", "198.51.100.1:5555"), trusted=["10.0.0.2"]) == (
        "198.51.100.1"
    )


@pytest.mark.parametrize("bad", ["nonsense", "10.0.0.0/33", "unix:/x"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_once(bad: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Admission(trusted_proxies=(bad,))
