"""Where a worker reaches the template and the user processes of one App.

By default, unix sockets in the App's runtime directory: ``template.sock`` and
``<key>.sock``. On the portable path, loopback TCP ports named by ``template.port`` and
``<key>.port`` (protocol/portable.py), and every connection proves, both ways, that it
holds the template's secret before its first frame (protocol/handshake.py).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

import anyio

from htagweb_asgi.errors import HtagwebError
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.config import TemplateConfig

if TYPE_CHECKING:  # the pool passes its channel classes: one floor less in the layers
    from htagweb_asgi.web.channel import Channel

C = TypeVar("C", bound="Channel")
# seconds a local peer may take to prove itself: a process spawned a moment ago may still be
# importing the App (seconds, when many start at once on a busy machine)
HANDSHAKE_TIMEOUT = 30.0


class LocalAddresses:
    """The addresses of one App's template and user processes, as one worker sees them."""

    def __init__(self, config: TemplateConfig) -> None:
        self.config = config
        self.portable = config.portable
        self._secret: bytes | None = None  # the template's, read once from template.port

    def user(self, key: str) -> str:
        """The file naming the process of `key` (a socket, or a port file)."""
        return self.config.key_file(key)

    @property
    def control(self) -> str:
        return os.path.join(self.config.directory, self.config.control_name)

    def forget_secret(self) -> None:
        """The template changed (it stopped, another started): read its secret again."""
        self._secret = None

    async def connect(self, channel_class: type[C], path: str) -> C:
        """A channel to whoever listens at `path`; OSError when nobody does, or when the
        listener does not prove it holds the template's secret."""
        if not self.portable:
            channel = await channel_class.connect(path)
            assert isinstance(channel, channel_class)
            return channel
        try:
            address = portable.read_address(path)  # OSError: no such process
        except ValueError as exc:
            raise ConnectionRefusedError(f"{path}: {exc}") from exc
        if address.secret is not None:
            # template.port itself: its secret, not the one read before. A template killed and
            # started again by another worker has a new one; trusting ours would take the new
            # template for a stranger and, under the start lock, start a second template.
            self._secret = address.secret
        secret = self._template_secret()
        channel = await channel_class.connect_tcp(portable.LOOPBACK, address.port)
        assert isinstance(channel, channel_class)
        try:
            with anyio.fail_after(HANDSHAKE_TIMEOUT):
                await channel.authenticate(secret, portable.WORKER_NAME, address.peer_name())
        except (ValueError, KeyError, TypeError, HtagwebError, TimeoutError) as exc:  # closed
            await channel.aclose()
            self.forget_secret()
            raise ConnectionRefusedError(f"{path}: not one of our processes ({exc})") from exc
        except BaseException:
            await channel.aclose()
            raise
        return channel

    def _template_secret(self) -> bytes:
        if self._secret is None:
            try:
                secret = portable.read_address(self.control).secret
            except ValueError as exc:
                raise ConnectionRefusedError(f"{self.control}: {exc}") from exc
            if secret is None:
                raise ConnectionRefusedError(f"{self.control} holds no secret")
            self._secret = secret
        return self._secret
