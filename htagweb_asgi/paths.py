"""Where our files live: the runtime directory (sockets, locks) and the state directory
(the secret key, the session database).

Runtime layout: ``<base>/<app dir>/`` (mode 0700) holds ``template.sock``, ``template.lock`` and one
``<key>.sock`` per user process, where ``<key>`` is an HMAC of a verified session id: nothing
a client sends ever becomes part of a path. ``<app dir>`` is a hash of the server's listening
address and the App, so the workers of one server share it and independent servers never meet.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

from htagweb_asgi import system
from htagweb_asgi.errors import HtagwebError

LOCK_FILE = "template.lock"
_MAX_SOCKET_PATH = 100  # sun_path is 104 (macOS) or 108 (Linux) bytes, NUL included
_APP_DIR_CHARS = 16
_LONGEST_NAME = "/" + "0" * _APP_DIR_CHARS + "/" + "0" * 32 + ".sock"  # <app dir>/<key>.sock
MAX_BASE_LENGTH = _MAX_SOCKET_PATH - len(_LONGEST_NAME)  # 45 bytes
SHORT_TMP = "/tmp"  # where a short runtime directory goes when the temp dir is too long
STATE_ENV_VAR = "HTAGWEB_STATE_DIR"


def user_id() -> int:
    """Our uid, part of our directories' names (0 on Windows, whose temporary directory is
    each user's own already)."""
    if sys.platform == "win32":
        return 0
    return os.getuid()


class RuntimeDirError(HtagwebError):
    """Raised when the runtime directory is unsafe (not ours, not private) or unusable."""


def default_base() -> str:
    """``$XDG_RUNTIME_DIR/htagweb-asgi`` when usable, else ``<tmp>/htagweb-asgi-<uid>``
    (``<tmp>`` follows ``$TMPDIR``); when neither is short enough for unix socket paths
    (macOS's ``$TMPDIR`` is about 49 characters), ``/tmp/hw-<uid>-<hash of that temp dir>``.

    Every worker, template and ``python -m htagweb_asgi ps`` computes the same answer.
    """
    candidates = []
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        candidates.append(os.path.join(xdg, "htagweb-asgi"))
    in_tmp = os.path.join(tempfile.gettempdir(), f"htagweb-asgi-{user_id()}")
    candidates.append(in_tmp)
    for candidate in candidates:
        if _fits(candidate):
            return candidate
    digest = hashlib.sha256(in_tmp.encode()).hexdigest()[:8]
    return os.path.join(SHORT_TMP, f"hw-{user_id()}-{digest}")


def _fits(base: str) -> bool:
    if sys.platform == "win32":
        return True  # no unix socket under it there: the portable path names ports
    return len(base.encode()) <= MAX_BASE_LENGTH


def check_base(base: str) -> None:
    """Create `base` (0700) or check it is ours and private, and short enough for the
    sockets under it; RuntimeDirError says what to change."""
    if not _fits(base):
        raise RuntimeDirError(
            f"runtime_dir {base!r} is {len(base.encode())} bytes long: the unix sockets under "
            f"it would pass the {_MAX_SOCKET_PATH}-byte limit; give a runtime_dir of at most "
            f"{MAX_BASE_LENGTH} bytes"
        )
    ensure_private_dir(base)


def ensure_private_dir(path: str) -> None:
    """Create `path` (0700) or check that the existing one is ours and private.

    In a shared /tmp another user could create the directory first and read our sockets;
    refusing it is the only safe answer.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    if sys.platform == "win32":
        return  # no owner nor mode bits to check: the profile's ACLs keep it private
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != user_id() or info.st_mode & 0o077:
        raise RuntimeDirError(
            f"{path} must be a directory of uid {user_id()} with mode 0700 (another user "
            "may have created it first): remove it, or choose another runtime_dir"
        )


def server_identity(scope: Mapping[str, Any]) -> str:
    """What the workers of one server share: the listening port (or unix socket path)."""
    server = scope.get("server")
    if not server:
        return "unknown"
    host, port = server[0], server[1]
    return f"port:{port}" if port is not None else f"unix:{host}"


def app_directory(base: str, server: str, app: str, fingerprint: str) -> str:
    """Return the runtime directory of `app` served by `server` with options `fingerprint`."""
    digest = hashlib.sha256(f"{user_id()}\0{server}\0{app}\0{fingerprint}".encode()).hexdigest()
    return os.path.join(base, digest[:_APP_DIR_CHARS])


def lock_directory(directory: str) -> int:
    """Block until we hold the template lock of `directory`; return its fd (close to release).

    A template that stops unlinks the lock file, so after locking we check that the path still
    names the file we locked; otherwise we would hold a lock on a file nobody else can see.
    """
    path = os.path.join(directory, LOCK_FILE)
    while True:
        ensure_private_dir(directory)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            continue  # the directory was removed between the two calls
        system.lock_exclusive(fd)
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def unlink_quietly(path: str) -> None:
    """Remove `path` if it exists (it may already be gone: another process cleaned up)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_if_unused(directory: str, control_socket: str) -> None:
    """Remove the lock file and `directory`, unless a new template already started there."""
    fd = lock_directory(directory)
    try:
        if os.path.exists(os.path.join(directory, control_socket)):
            return
        os.unlink(os.path.join(directory, LOCK_FILE))
        # not empty: a user socket of a new template, or a file that is not ours
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    finally:
        os.close(fd)


def default_state_dir() -> str:
    """``$HTAGWEB_STATE_DIR``, else ``$XDG_STATE_HOME/htagweb-asgi``, else
    ``~/.local/state/htagweb-asgi``."""
    if os.environ.get(STATE_ENV_VAR):
        return os.environ[STATE_ENV_VAR]
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(xdg, "htagweb-asgi")


def ensure_state_dir(directory: str) -> None:
    """Create it (and its parents) if needed; it must be ours and private (0700)."""
    os.makedirs(os.path.dirname(os.path.abspath(directory)), exist_ok=True)
    ensure_private_dir(directory)
