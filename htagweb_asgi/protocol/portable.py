"""The portable process model's addresses: loopback TCP ports named by files.

On the default path (Linux, macOS) a user process *is* its unix socket ``<key>.sock`` and
the template listens on ``template.sock``. The portable path (Windows, where there is no
fork and no unix socket to pass; forced elsewhere with ``$HTAGWEB_PORTABLE=1``) listens on
127.0.0.1 only, on ports the OS chooses, and names them with files in the same private
runtime directory: ``template.port`` (the template's port and its secret) and one
``<key>.port`` per user process. Whoever may read the directory may connect, as with the
sockets; every connection must also prove it holds the template's secret
(protocol/handshake.py), so a port reused by another program after a crash is never
mistaken for ours.

A leaf: the workers, the template, the user processes and the operator's commands use it.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import NamedTuple

ENV_VAR = "HTAGWEB_PORTABLE"
LOOPBACK = "127.0.0.1"
CONTROL_FILE = "template.port"
SUFFIX = ".port"
SECRET_BYTES = 32
TEMPLATE_NAME = "template"  # the names each side gives in the handshake
USER_NAME = "user"
WORKER_NAME = "worker"


def from_environment() -> bool:
    """``$HTAGWEB_PORTABLE=1`` (tests, and whoever wants the Windows path elsewhere)."""
    return os.environ.get(ENV_VAR, "") not in ("", "0")


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


class Address(NamedTuple):
    """What a port file says: the port; the template's secret (``template.port``), or the
    name the user process proves itself under (``<key>.port``: fresh at each assignment,
    so that a stale file, whose port another of our processes may have got since, never
    leads to it)."""

    port: int
    secret: bytes | None = None
    ident: str = ""

    def peer_name(self) -> str:
        """The name the listener must prove itself under in the handshake."""
        return f"{USER_NAME}:{self.ident}" if self.ident else TEMPLATE_NAME


def new_ident() -> str:
    return secrets.token_hex(16)


def write_address(path: str, address: Address) -> None:
    """Write `address` to `path` at once: a reader sees the old file or the new one, never
    half of it. Private to us (0600), inside a private directory."""
    content: dict[str, object] = {"port": address.port}
    if address.secret is not None:
        content["secret"] = address.secret.hex()
    if address.ident:
        content["id"] = address.ident
    partial = f"{path}.{os.getpid()}.tmp"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(content, out)
    os.replace(partial, path)


def read_address(path: str) -> Address:
    """The address written at `path`; OSError when there is none (nobody listens),
    ValueError when it is not ours."""
    with open(path, encoding="utf-8") as source:
        text = source.read()
    try:
        content = json.loads(text)
        port = int(content["port"])
        secret = content.get("secret")
        key = bytes.fromhex(secret) if isinstance(secret, str) else None
        ident = str(content.get("id", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not one of our address files: {exc!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{path}: port {port} out of range")
    return Address(port, key, ident)
