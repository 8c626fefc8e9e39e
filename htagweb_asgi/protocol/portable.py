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


def write_address(path: str, port: int, secret: bytes | None = None) -> None:
    """Write `port` (and `secret`) to `path` at once: a reader sees the old file or the new
    one, never half of it. Private to us (0600), inside a private directory."""
    content: dict[str, object] = {"port": port}
    if secret is not None:
        content["secret"] = secret.hex()
    partial = f"{path}.{os.getpid()}.tmp"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(content, out)
    os.replace(partial, path)


def read_address(path: str) -> tuple[int, bytes | None]:
    """The port (and secret) written at `path`; OSError when there is none (nobody
    listens), ValueError when it is not ours."""
    with open(path, encoding="utf-8") as source:
        text = source.read()
    try:
        content = json.loads(text)
        port = int(content["port"])
        secret = content.get("secret")
        key = bytes.fromhex(secret) if isinstance(secret, str) else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not one of our address files: {exc!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"{path}: port {port} out of range")
    return port, key
