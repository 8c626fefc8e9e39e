"""The secret key that signs session cookies: given, from the environment, or kept on disk."""

from __future__ import annotations

import logging
import os
import secrets

logger = logging.getLogger(__name__)

ENV_VAR = "HTAGWEB_SECRET_KEY"
KEY_FILE = "secret_key"


def resolve(given: str | bytes | None, directory: str) -> bytes:
    """Return the key: `given`, else $HTAGWEB_SECRET_KEY, else one generated once in `directory`.

    Every worker and every restart must agree on the key, or cookies signed by one worker are
    refused by the next; a generated key is therefore written (0600) where all of them find it.
    """
    if given:
        return given.encode() if isinstance(given, str) else given
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env.encode()
    path = os.path.join(directory, KEY_FILE)
    key = _read_or_create(path)
    logger.warning(
        "no secret_key given and %s is unset: using the generated key in %s "
        "(set one in production so sessions survive a reboot and all hosts agree)",
        ENV_VAR,
        path,
    )
    return key


def _read_or_create(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read().strip()
    except FileNotFoundError:
        pass
    # Publish atomically: write a private temporary file, then link it into place; when another
    # worker won the race, link fails and we read theirs.
    temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    with open(path, "rb") as file:
        return file.read().strip()
