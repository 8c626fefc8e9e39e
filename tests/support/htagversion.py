"""Which htag this test run has, and where its test Apps live.

The browser checks run unchanged against htag 1 and htag 2 Apps of the same structure: the
hosts they serve name their Apps through :func:`app_ref`, which picks the htag 2 twin
(tests/support/apps/htag2/) in an environment with htag 2.
"""

from __future__ import annotations

from importlib.metadata import version

HTAG_MAJOR = 2 if int(version("htag").split(".")[0]) >= 2 else 1


def app_ref(ref: str) -> str:
    """``"counter:App"`` → the import string of that test App for this htag."""
    package = "tests.support.apps.htag2" if HTAG_MAJOR == 2 else "tests.support.apps"
    return f"{package}.{ref}"
