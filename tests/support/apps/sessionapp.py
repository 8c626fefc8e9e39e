"""An App that reads and writes the session shared with framework routes."""

from __future__ import annotations

import json
import os

from htag import Tag


class App(Tag.body):
    def init(self) -> None:
        self.clicks = 0
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.shown = Tag.pre(self._dump(), _class="session")
        self.add(self.shown)
        self.add(Tag.div(str(self.session.get("user", {}).get("name", "anonymous")), _class="user"))
        self.add(Tag.button("write", _class="write", _onclick=self.write))
        self.add(Tag.button("show", _class="show", _onclick=self.show))
        self.add(Tag.button("bad", _class="bad", _onclick=self.bad))
        self.add(Tag.button("nested", _class="nested", _onclick=self.nested))
        self.add(Tag.button("state", _class="state", _onclick=self.bump_state))
        self.add(Tag.button("login", _class="login", _onclick=self.login))

    def _dump(self) -> str:
        return json.dumps(dict(self.session), sort_keys=True)

    def show(self, _: object) -> None:
        self.shown.clear(self._dump())

    def write(self, _: object) -> None:
        self.clicks += 1
        self.session["from_app"] = self.clicks
        self.shown.clear(self._dump())

    def bad(self, _: object) -> None:
        self.session["unstorable"] = object()

    def nested(self, _: object) -> None:
        self.session.setdefault("nested", {"items": []})["items"].append({"bad": {1, 2}})

    def login(self, _: object) -> None:
        """The App logs the user in itself: a new session id, this process kept."""
        self.session["user"] = {"name": "app-user"}
        self.session.rotate()
        self.shown.clear(self._dump())

    def bump_state(self, _: object) -> None:
        self.state["n"] = self.state.get("n", 0) + 1
        self.shown.clear(self._dump())
