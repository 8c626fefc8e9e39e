"""How an App is named so that another interpreter (the template process) can import it."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType

from htagweb_asgi.errors import HtagwebError

MAIN_ALIAS = "__mp_main__"  # the name multiprocessing also gives a re-imported main script


class AppImportError(HtagwebError):
    """Raised when an App reference cannot be resolved or imported."""


@dataclass(frozen=True)
class AppRef:
    """An importable reference to an htag App class."""

    module: str  # importable module name; MAIN_ALIAS when `file` is a script run as __main__
    qualname: str
    file: str | None = None

    def __str__(self) -> str:
        return f"{self.file or self.module}:{self.qualname}"


def resolve(app: object) -> AppRef:
    """Return the reference for a Tag subclass, a module holding ``App``, or ``"module:App"``.

    A string is not imported here, so a worker does not pay for the App's imports; the template
    process imports it and reports errors.
    """
    if isinstance(app, str):
        module, _, qualname = app.partition(":")
        if not module:
            raise AppImportError(f"bad App reference {app!r}: expected 'module:App'")
        return AppRef(module, qualname or "App")
    if isinstance(app, ModuleType):
        if not hasattr(app, "App"):
            raise AppImportError(f"module {app.__name__!r} has no 'App'")
        return _from_module(app, "App")
    if isinstance(app, type):
        _require_tag(app)
        if "<locals>" in app.__qualname__:
            raise AppImportError(
                f"{app.__qualname__} is defined inside a function; define it at module level "
                "so its user processes can import it"
            )
        return _from_module(sys.modules[app.__module__], app.__qualname__)
    raise AppImportError(f"expected an htag App class, a module or 'module:App', not {app!r}")


def _from_module(module: ModuleType, qualname: str) -> AppRef:
    if module.__name__ != "__main__":
        return AppRef(module.__name__, qualname)
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.name:  # started as `python -m package.module`
        return AppRef(spec.name, qualname)
    file = getattr(module, "__file__", None)
    if not file:
        raise AppImportError("the App lives in an interactive __main__ that cannot be re-imported")
    return AppRef(MAIN_ALIAS, qualname, file=file)


def load(ref: AppRef) -> type:
    """Import and return the App class (in the template process)."""
    try:
        module = _import(ref)
        obj: object = module
        for part in ref.qualname.split("."):
            obj = getattr(obj, part)
    except AppImportError:
        raise
    except Exception as exc:
        raise AppImportError(f"cannot import {ref}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, type):
        raise AppImportError(f"{ref} is not a class")
    _require_tag(obj)
    return obj


def _import(ref: AppRef) -> ModuleType:
    if ref.file is None:
        return importlib.import_module(ref.module)
    if ref.module in sys.modules:
        return sys.modules[ref.module]
    spec = importlib.util.spec_from_file_location(ref.module, ref.file)
    if spec is None or spec.loader is None:
        raise AppImportError(f"cannot load {ref.file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[ref.module] = module
    spec.loader.exec_module(module)
    return module


def _require_tag(cls: type) -> None:
    """htag 1 serves any Tag subclass (its root renders as <body>); htag 2 an App (``Tag.App``):
    its ``Tag`` is a factory, not a class."""
    import htag

    if isinstance(htag.Tag, type):
        if not issubclass(cls, htag.Tag):
            raise AppImportError(f"{cls.__qualname__} is not an htag Tag subclass")
    elif not issubclass(cls, htag.App):
        raise AppImportError(f"{cls.__qualname__} is not an htag App (a Tag.App subclass)")
