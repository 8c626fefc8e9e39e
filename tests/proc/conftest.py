"""Fixtures of the proc tier: registries whose templates are stopped at the end of each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from htagweb_asgi.web.registry import PoolRegistry
from tests.support.pools import MakeRegistry, make_registry


@pytest.fixture
async def registries(runtime_dir: str) -> AsyncIterator[MakeRegistry]:
    """Make registries under the test's runtime directory (make_registry's options); all
    are closed at the end, which stops their templates."""
    made: list[PoolRegistry] = []

    def make(**options: Any) -> PoolRegistry:
        made.append(make_registry(runtime_dir, **options))
        return made[-1]

    yield make
    for registry in made:
        await registry.close()


@pytest.fixture
def registry(registries: MakeRegistry) -> PoolRegistry:
    """A registry with the default settings of make_registry."""
    return registries()
