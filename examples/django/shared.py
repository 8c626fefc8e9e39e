"""The htag App's session is Django's: one DjangoSessions for asgi.py, asgi_channels.py and
the login/logout receivers of apps.py. Nothing reads Django's settings before a request."""

from __future__ import annotations

from htagweb_asgi import DjangoSessions

sessions = DjangoSessions()  # Django's session cookie, else our own for anonymous visitors
