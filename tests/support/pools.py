"""Process pools for the proc tests: registries of templates under a test's runtime
directory, made alike in every process that uses them (so that they reach the same
templates: the template directory depends on the settings)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from htagweb_asgi.appref import AppRef
from htagweb_asgi.options import Admission, AppOptions, Limits, TemplateSettings
from htagweb_asgi.web.registry import PoolRegistry
from htagweb_asgi.web.routing import MountedApp

COUNTER = MountedApp("", AppRef("tests.support.apps.counter", "App"), AppOptions())
LEASE_GRACE = 0.5  # seconds without any worker before a template stops: short in tests

MakeRegistry = Callable[..., PoolRegistry]  # the proc tier's `registries` fixture


def make_registry(
    runtime_dir: str,
    max_processes: int | None = 50,
    admission: Admission | None = None,
    **settings: Any,
) -> PoolRegistry:
    """A registry of templates under `runtime_dir`; `settings` are TemplateSettings fields."""
    limits = Limits(max_processes=max_processes)
    template = TemplateSettings(lease_grace=LEASE_GRACE, **settings)
    return PoolRegistry(runtime_dir, limits, template, admission=admission)
