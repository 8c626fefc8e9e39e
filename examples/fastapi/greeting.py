"""The htag App of examples/fastapi/login.py: it greets whoever the session says is signed in.

It lives in its own module so that the App's processes import htag and this file only, not
FastAPI and authlib (``HtagASGI("examples.fastapi.greeting:App")``: the server's workers do
not even import it).
"""

from __future__ import annotations

import html
import os

from htag import Tag


class App(Tag.body):
    def init(self) -> None:
        # /auth put the user here (request.session["user"]); self.session is that same session
        user = self.session.get("user")
        if user:
            # htag puts strings into the page as HTML: escape what the provider sent
            self.add(Tag.h1(f"Hello, {html.escape(user['name'])}", _class="greeting"))
            self.add(Tag.p(html.escape(user.get("email") or ""), _class="email"))
            # POST, not a link: a page on another site cannot sign our users out (the session
            # cookie is SameSite=Lax, so a cross-site POST arrives without it)
            signout = Tag.button("Sign out", _type="submit", _class="logout")
            self.add(Tag.form(signout, _method="post", _action="/logout"))
        else:
            self.add(Tag.h1("Hello, anonymous visitor", _class="greeting"))
            self.add(Tag.a("Sign in", _href="/login", _class="login"))
        # each user has their own process; signing in or out ends it (the session changes)
        self.add(Tag.p(["Your own process: pid ", Tag.span(str(os.getpid()), _class="pid")]))
