"""The App of the chaos soak: each click writes its number into the user's session.

The list lives in the session, not in the App: a process that replaces a killed one starts
from what the store has, so every acknowledged write can be checked there afterwards.
"""

from __future__ import annotations

import os

from htag import Tag


class App(Tag.body):
    def init(self) -> None:
        self.add(Tag.div(f"pid={os.getpid()}", _class="pid"))
        self.done = Tag.span(self._text(), _class="done")
        self.add(self.done)
        self.add(Tag.button("write", _class="write", _onclick=self.write))

    def _text(self) -> str:
        clicks = self.session.get("clicks", [])
        return f"{len(clicks)} last={clicks[-1] if clicks else None}"

    def write(self, button: Tag) -> None:
        """Append the click's number (the page sends it as the event's value)."""
        number = int(button.event["value"])
        self.session["clicks"] = [*self.session.get("clicks", []), number]
        self.done.clear(self._text())
