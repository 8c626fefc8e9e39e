"""The state directory: what must survive a restart (the secret key, the session database)."""

from __future__ import annotations

import os

from .runtime import ensure_private_dir

ENV_VAR = "HTAGWEB_STATE_DIR"


def default() -> str:
    """``$HTAGWEB_STATE_DIR``, else ``$XDG_STATE_HOME/htagweb-asgi``, else
    ``~/.local/state/htagweb-asgi``."""
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(xdg, "htagweb-asgi")


def ensure(directory: str) -> None:
    """Create it (and its parents) if needed; it must be ours and private (0700)."""
    os.makedirs(os.path.dirname(os.path.abspath(directory)), exist_ok=True)
    ensure_private_dir(directory)
