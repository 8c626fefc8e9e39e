"""The htag 2 twin of tests/support/apps/sessionapp.py: the session is ``self.request.session``
(ours: the one framework routes see as ``request.session``)."""

from __future__ import annotations

import json
import os
from typing import Any

from htag import Tag


class App(Tag.App):
    def init(self) -> None:
        self.clicks = 0
        Tag.div(f"pid={os.getpid()}", _class="pid")
        self.shown = Tag.pre(self._dump(), _class="session")
        Tag.div(str(self.session.get("user", {}).get("name", "anonymous")), _class="user")
        Tag.button("write", _class="write", _onclick=self.write)
        Tag.button("show", _class="show", _onclick=self.show)
        Tag.button("bad", _class="bad", _onclick=self.bad)
        Tag.button("nested", _class="nested", _onclick=self.nested)

    @property
    def session(self) -> Any:
        return self.request.session

    def _dump(self) -> str:
        return json.dumps(dict(self.session), sort_keys=True)

    def show(self, _: object) -> None:
        self.shown.text = self._dump()

    def write(self, _: object) -> None:
        self.clicks += 1
        self.session["from_app"] = self.clicks
        self.shown.text = self._dump()

    def bad(self, _: object) -> None:
        self.session["unstorable"] = object()

    def nested(self, _: object) -> None:
        self.session.setdefault("nested", {"items": []})["items"].append({"bad": {1, 2}})
