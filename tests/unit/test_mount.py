"""Prefix and sub-path for every way hosts pass them (shared/research/mounting.md §1)."""

from __future__ import annotations

from typing import Any

import pytest

from htagweb_asgi.web.routing import mount_point, relative_to_root


def scope(
    path: str, root_path: str = "", raw_path: str | None = None, **extra: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {"path": path, "root_path": root_path, **extra}
    if raw_path is not None:
        result["raw_path"] = raw_path.encode()
    return result


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (scope("/_/x"), ("", "/_/x")),  # standalone
        (scope("/ui/_/x", "/ui", "/ui/_/x"), ("/ui", "/_/x")),  # Starlette >= 0.35 / FastAPI mount
        (scope("/px/ui/_/x", "/px/ui"), ("/px/ui", "/_/x")),  # mount under uvicorn --root-path
        (scope("/ui", "/ui"), ("/ui", "")),  # the mount point without its slash
        (scope("/_/x", "/ui"), ("/ui", "/_/x")),  # hypercorn --root-path behind a stripping proxy
        (scope("/ui/_/x", "/px/ui"), ("/px/ui", "/_/x")),  # Starlette <= 0.32 under an outer root
        (
            scope("/uix", "/ui"),
            ("/ui", "/uix"),
        ),  # hypercorn Dispatcher startswith match → 404 later
        (scope("/ui2/_/x", path_remaining="_/x"), ("/ui2", "/_/x")),  # Channels path()
        (scope("/ui4/_/x", path_remaining="/_/x"), ("/ui4", "/_/x")),  # Channels re_path(^ui4)
        (scope("/ui/", path_remaining=""), ("/ui", "/")),  # Channels, exact
        (scope("/_/x/", raw_path="/ui/_/x"), ("/ui", "/_/x")),  # Litestar (trailing slash added)
        (scope("/", raw_path="/ui"), ("/ui", "")),  # Litestar, GET /ui
        (scope("/", raw_path="/ui/"), ("/ui", "/")),  # Litestar, GET /ui/
        (scope("/_/a b/", raw_path="/ui/_/a%20b"), ("/ui", "/_/a b")),  # Litestar, encoded
        (scope("/a", raw_path="/a?x=1"), ("", "/a")),  # a server that leaves the query in raw_path
    ],
)
def test_mount_point(given: dict[str, Any], expected: tuple[str, str]) -> None:
    assert mount_point(given) == expected


@pytest.mark.parametrize(
    ("sub", "relative"),
    [("/", "./"), ("/admin", "./"), ("/admin/", "../"), ("/a/b", "../"), ("/a/b/", "../../")],
)
def test_relative_urls_lead_back_to_the_mount_point(sub: str, relative: str) -> None:
    assert relative_to_root(sub) == relative
