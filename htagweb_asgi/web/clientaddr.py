"""The address a request comes from, as admission control counts it (sans-IO).

It is the ASGI ``client``, unless that peer is a configured trusted proxy: then the proxy's
header (``X-Forwarded-For``, or RFC 7239 ``Forwarded``) is read from the right, skipping
trusted proxies, and the first address not trusted is the client, so that a client cannot
choose its own address by sending the header itself (as uvicorn's ``forwarded_allow_ips``).
IPv6 addresses count by /64 network, what one subscriber is given. The address is only ever
compared in memory: never a path, a file name or a process argument.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from htagweb_asgi.web.http import header

logger = logging.getLogger(__name__)

UNIX = "unix"  # a peer on a unix socket (no address): a proxy on this machine, usually
UNKNOWN = "unknown"
IPV6_PREFIX = 64
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddresses:
    """Resolves the client address of requests, trusting the headers of `trusted` proxies."""

    def __init__(self, trusted: Iterable[str] = (), forwarded_header: str = "x-forwarded-for"):
        trusted = list(trusted)
        self.trust_unix = UNIX in trusted
        self.networks = [ipaddress.ip_network(p, strict=False) for p in trusted if p != UNIX]
        self.header = forwarded_header.encode("latin-1")
        self._warned = False

    def of(self, scope: Mapping[str, Any]) -> str:
        """The address that counts for `scope`'s request (see the module docstring)."""
        peer = _peer(scope)
        if not self._trusted(peer):
            self._warn_if_forwarded(scope, peer)
            return _bucket(peer)
        raw = _joined(scope, self.header)
        hops = _forwarded_for(raw) if self.header == b"forwarded" else _x_forwarded_for(raw)
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:
                return UNKNOWN  # a proxy we trust wrote something we cannot read
            if not self._trusted(parsed):
                return _bucket(parsed)
        return _bucket(_parse(hops[0]) if hops else peer)  # proxies all the way

    def _trusted(self, peer: Address | str | None) -> bool:
        if peer == UNIX:
            return self.trust_unix
        if not isinstance(peer, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(peer in network for network in self.networks)

    def _warn_if_forwarded(self, scope: Mapping[str, Any], peer: Address | str | None) -> None:
        """Once per worker: a proxy we were not told to trust (a private or loopback peer
        sending the header), so every client behind it shares one budget. A public peer
        with the header is a client (or the server resolved the header already, as
        uvicorn's --forwarded-allow-ips does)."""
        if self._warned or header(scope, self.header) is None:
            return
        local = peer == UNIX or (
            isinstance(peer, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and (peer.is_private or peer.is_loopback)
        )
        if not local:
            return
        self._warned = True
        logger.warning(
            "requests from %s carry %s, but %s is not among the trusted_proxies: admission "
            "control counts every client behind it as one. If it is your proxy, trust it: "
            "HtagASGI(admission=Admission(trusted_proxies=[...]))",
            peer,
            self.header.decode(),
            peer,
        )


def _joined(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    """Every value of header `name`, in order, as one comma-separated list (RFC 9110 5.3)."""
    values = [value for key, value in scope.get("headers") or () if key == name]
    return b",".join(values) if values else None


def _peer(scope: Mapping[str, Any]) -> Address | str | None:
    client = scope.get("client")
    if not client or not client[0]:
        return UNIX  # servers give None (or an empty host) for a unix-socket peer
    return _parse(str(client[0]))


@functools.lru_cache(maxsize=4096)  # a flood repeats one address: parse it once
def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])  # no IPv6 zone
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _bucket(address: Address | str | None) -> str:
    """What admission control counts: the address itself, an IPv6 /64 network."""
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def _x_forwarded_for(raw: bytes | None) -> list[str]:
    if raw is None:
        return []
    return [hop.strip() for hop in raw.decode("latin-1").split(",") if hop.strip()]


def _forwarded_for(raw: bytes | None) -> list[str]:
    """The ``for=`` of each element of an RFC 7239 Forwarded header, in order."""
    if raw is None:
        return []
    hops = []
    for element in raw.decode("latin-1").split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for":
                hops.append(value.strip().strip('"'))
    return hops
