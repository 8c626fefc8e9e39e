"""The htag App of the Django example: examples/hello.py's counter and clock, the user Django
logged in, read from ``self.session`` (the Django session of this browser), and the clicks,
written there for Django's pages to show."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from htag import Tag

from examples.hello import App as Hello


def signed_in_as(session: Mapping[str, Any]) -> str:
    user = session.get("user")  # copied into the session at login (apps.remember_user)
    if user:
        return str(user["name"] or user["username"])
    if "_auth_user_id" in session:  # Django's own key: the user's primary key, as a string
        return f"user #{session['_auth_user_id']}"
    return "anonymous"


class App(Hello):
    def init(self) -> None:
        super().init()
        # Read once: a Django login or logout ends this process, so the next page load
        # starts a new one with the new session.
        self.add(Tag.p(["Signed in as: ", Tag.b(signed_in_as(self.session), _class="user")]))
        self.add(Tag.p(["Process ", Tag.span(str(os.getpid()), _class="pid")]))
        self.add(Tag.p(Tag.a("Django home: log in or out", _href="../")))

    def increment(self, event: object) -> None:
        super().increment(event)
        # Saved into the Django session before the page sees the new count: Django's home
        # page shows it (for a logged-in user; an anonymous visitor's session is our own).
        self.session["clicks"] = self.count
