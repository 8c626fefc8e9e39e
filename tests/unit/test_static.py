"""The page's scripts served as one bundle (web/static.py)."""

from __future__ import annotations

from importlib import resources

import pytest

from htagweb_asgi.options import AppOptions
from htagweb_asgi.web.static import bundle_name, page_scripts, script


def source(name: str) -> bytes:
    return resources.files("htagweb_asgi").joinpath("static").joinpath(name).read_bytes()


def test_a_page_links_its_scripts_as_one_bundle_that_runs_them_in_order() -> None:
    names = page_scripts(AppOptions(parano=True), htag=2)
    name = bundle_name(names)
    assert name == "client-parano-websocket-http-htag2.js"
    body, version = script(name)
    positions = [body.index(source(part)) for part in names]
    assert positions == sorted(positions) and positions[0] == 0
    assert version != script("client.js")[1]  # a new bundle content: a new URL


def test_a_page_with_one_script_links_it_by_its_own_name() -> None:
    assert bundle_name(["client.js"]) == "client.js"
    assert script("client.js")[0] == source("client.js")


def test_a_name_that_is_not_a_bundle_in_page_order_is_no_script() -> None:
    with pytest.raises(ValueError):
        script("websocket-client.js")
