"""The htag 2 suite: run in an environment with htag 2 (``.venv-htag2``, scripts/test.sh).

The htag 1 environment ignores this folder (tests/conftest.py). htag 2 Apps use asyncio
directly, as their user processes run it: the in-process tests run on asyncio only.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
