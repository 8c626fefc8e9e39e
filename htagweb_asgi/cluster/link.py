"""The link between two nodes: TCP, mutual authentication from the shared secret, then one
request (OPEN) naming the user process to reach; after its answer, the connection carries
that process's frames unchanged (the owner splices it to the process's unix socket).

Both sides prove they hold the link key (derived from the session secret every node must
share) with an HMAC over both sides' fresh nonces, their roles and both node names: a
client without the key gets nothing but a closed connection, and a recorded exchange
cannot be replayed. The link is authenticated, not encrypted: keep it on a private network
(the same one as the balancer's traffic to the nodes).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast

import anyio

from htagweb_asgi.cluster.settings import split_address
from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol.frames import Kind, load_json
from htagweb_asgi.web.channel import Channel, ChannelClosed

logger = logging.getLogger(__name__)

LINK_TIMEOUT = 5.0  # seconds to connect and authenticate
OPEN_TIMEOUT = 60.0  # seconds for the answer to OPEN: a spawn may start the App's template

C = TypeVar("C", bound=Channel)


class LinkError(HtagwebError):
    """Raised when another node's link does not answer as it should (timeout, bad proof)."""


class LinkRefused(LinkError):
    """Raised when nothing listens at another node's link address: that node is gone."""


async def open_link(
    channel_class: type[C], address: str, key: bytes, me: str, request: dict[str, Any]
) -> tuple[C, Kind, Any]:
    """Connect to the link at `address`, authenticate both ways, send OPEN `request`; return
    the channel (its next frames are the process's) with the answer's kind and JSON.

    Raises LinkRefused when nothing listens there, LinkError on any other failure.
    """
    host, port = split_address(address)
    try:
        with anyio.fail_after(LINK_TIMEOUT):
            channel = cast(C, await channel_class.connect_tcp(host, port))
    except ConnectionRefusedError as exc:
        raise LinkRefused(f"nothing listens at {address}") from exc
    except (OSError, TimeoutError) as exc:
        raise LinkError(f"cannot connect to {address}: {exc}") from exc
    try:
        with anyio.fail_after(LINK_TIMEOUT):
            await _authenticate(channel, key, me)
        with anyio.fail_after(OPEN_TIMEOUT):
            await channel.send_json(Kind.OPEN, request)
            kind, payload = await Channel.receive(channel)
            answer = load_json(payload) if payload else None
    except BaseException as exc:
        await channel.aclose()
        if isinstance(exc, TimeoutError | ChannelClosed | ValueError | KeyError):
            raise LinkError(f"the link at {address} failed: {exc}") from exc
        raise
    return channel, kind, answer


async def _authenticate(channel: Channel, key: bytes, me: str) -> None:
    try:
        await channel.authenticate(key, me)
    except ValueError as exc:
        raise LinkError(f"node {exc}") from exc
