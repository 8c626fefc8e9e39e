"""The template's side of the workers' counters (see protocol/series.py): sum the files of
the workers of its server, and fold those of gone workers into totals it keeps."""

from __future__ import annotations

import contextlib
import logging
import os

from htagweb_asgi import paths
from htagweb_asgi.proc import osutil
from htagweb_asgi.protocol import series

logger = logging.getLogger(__name__)


class WorkerFiles:
    """The workers' series of one App's runtime directory."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.retired = [0.0] * series.SIZE  # what gone workers counted

    def collect(self) -> list[float]:
        """The sum over live workers' files and gone ones' totals; gone files are removed."""
        total = list(self.retired)
        for name, pid in self._files():
            path = os.path.join(self.directory, name)
            try:
                with open(path, "rb") as file:
                    values = series.parse(file.read())
            except OSError:
                continue
            if values is None:
                continue
            total = [a + b for a, b in zip(total, values, strict=True)]
            if not osutil.pid_alive(pid):  # its last counts are in: keep them, drop the file
                self.retired = [a + b for a, b in zip(self.retired, values, strict=True)]
                paths.unlink_quietly(path)
        return total

    def remove_all(self) -> None:
        """The template stops: no file of ours may keep its directory from going."""
        for name, _pid in self._files():
            paths.unlink_quietly(os.path.join(self.directory, name))

    def _files(self) -> list[tuple[str, int]]:
        found = []
        with contextlib.suppress(OSError):
            for name in os.listdir(self.directory):
                if name.startswith(series.FILE_PREFIX) and name.endswith(series.FILE_SUFFIX):
                    number = name[len(series.FILE_PREFIX) : -len(series.FILE_SUFFIX)]
                    if number.isdigit():
                        found.append((name, int(number)))
        return found
