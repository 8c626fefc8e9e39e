"""Notice that an App's source changed, so new users get the new code (for development)."""

from __future__ import annotations

import importlib.util
import os
import sys

from htagweb_asgi.appref import AppRef


def _app_files(module_file: str | None) -> dict[str, float]:
    """The loaded modules that live beside the App's module (its project), with their mtimes.

    Installed packages (site-packages) are left out: they change with a deploy, which restarts
    the server anyway.
    """
    if not module_file:
        return {}
    root = os.path.dirname(os.path.abspath(module_file))
    files: dict[str, float] = {}
    if os.path.exists(module_file):  # watched even when its import failed
        files[os.path.abspath(module_file)] = os.stat(module_file).st_mtime
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or "-packages" + os.sep in path:
            continue
        path = os.path.abspath(path)
        if path.startswith(root + os.sep):
            try:
                files[path] = os.stat(path).st_mtime
            except OSError:
                continue
    return files


class SourceWatch:
    """Remembers the App's source files as imported and says when one of them changed."""

    def __init__(self, module_file: str | None) -> None:
        self._files = _app_files(module_file)

    @classmethod
    def of(cls, ref: AppRef) -> SourceWatch:
        """Watch the project of the App named by `ref` (call it after importing the App)."""
        if ref.file is not None:
            return cls(ref.file)
        try:
            spec = importlib.util.find_spec(ref.module)
        except (ImportError, ValueError):
            spec = None
        return cls(spec.origin if spec is not None and spec.has_location else None)

    def changed(self) -> bool:
        for path, mtime in self._files.items():
            try:
                if os.stat(path).st_mtime != mtime:
                    return True
            except OSError:
                return True
        return False
