"""Where we are mounted: the public prefix and the sub-path of a request (sans-IO).

Every host passes this differently (see shared/research/mounting.md §1): the ASGI spec puts the
prefix in ``root_path`` *and* in ``path``; hypercorn/daphne/granian ``--root-path`` behind a
stripping proxy give a ``path`` without it; Channels adds ``path_remaining``; Litestar rewrites
``path`` (adding a trailing slash) and leaves ``root_path`` empty, so only ``raw_path`` tells.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote


def mount_point(scope: Mapping[str, Any]) -> tuple[str, str]:
    """Return ``(prefix, sub)``: the public prefix (no trailing ``/``) and the path below it.

    ``sub == ""`` means the request named the mount point without its trailing slash.
    """
    path: str = scope.get("path") or "/"
    root: str = (scope.get("root_path") or "").rstrip("/")
    if "path_remaining" in scope:
        return _channels(path, scope["path_remaining"])
    if root and (path == root or path.startswith(root + "/")):
        return root, path[len(root) :]
    if root:
        return root, _strip_root_suffix(root, path)
    return _from_raw_path(path, scope.get("raw_path"))


def _channels(path: str, remaining: str) -> tuple[str, str]:
    consumed = path[: len(path) - len(remaining)] if remaining else path
    if remaining:
        return consumed.rstrip("/"), "/" + remaining.lstrip("/")
    return consumed.rstrip("/"), "/" if consumed.endswith("/") else ""


def _strip_root_suffix(root: str, path: str) -> str:
    """`root_path` is not in `path`: the proxy stripped all or part of it.

    Strip the longest trailing run of root's segments that `path` starts with (Starlette <= 0.32
    under an outer root_path); when none matches, `path` is already the sub-path.
    """
    segments = root.split("/")[1:]
    for start in range(len(segments)):
        suffix = "/" + "/".join(segments[start:])
        if path == suffix or path.startswith(suffix + "/"):
            return path[len(suffix) :]
    return path


def _from_raw_path(path: str, raw_path: object) -> tuple[str, str]:
    if not isinstance(raw_path, bytes) or not raw_path:
        return "", path
    raw = unquote(raw_path.decode("latin-1").split("?", 1)[0])
    trimmed_raw, trimmed_path = raw.rstrip("/"), path.rstrip("/")
    if raw == path or not trimmed_raw.endswith(trimmed_path):
        return "", path
    prefix = trimmed_raw[: len(trimmed_raw) - len(trimmed_path)]
    return prefix, trimmed_path + ("/" if raw.endswith("/") else "")


def relative_to_root(sub: str) -> str:
    """Return the relative URL from a page served at `sub` back to the mount point (``./``...).

    Relative URLs in the page keep working behind proxies that strip a prefix unknown to us.
    """
    depth = sub.count("/") - 1
    return "../" * depth if depth > 0 else "./"
