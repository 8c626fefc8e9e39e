"""Apps that fail while being created."""

from __future__ import annotations

import os

from htag import Tag


class RaisesInInit(Tag.body):
    def init(self) -> None:
        raise RuntimeError("init fails on purpose")


class DiesInInit(Tag.body):
    def init(self) -> None:
        os._exit(7)
