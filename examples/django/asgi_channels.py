"""Django Channels: Django's pages and login, and the htag App at /ui/ in Channels' routers,
seeing the Django session of the browser (``self.session``).

    pip install 'htagweb-asgi[integrations]'      # or: htagweb-asgi django channels daphne
    DJANGO_SETTINGS_MODULE=examples.django.settings python -m django migrate   # once
    daphne examples.django.asgi_channels:application
    uvicorn examples.django.asgi_channels:application

HtagASGI routes everything below its prefix itself, so Channels' ``path("ui/", ui)`` matches
the whole /ui/ tree (like a nested URLRouter). It goes in both routers, before Django's
catch-all. daphne never sends lifespan: the host then starts on its first request.
HtagASGI reads Django's session cookie itself: no SessionMiddlewareStack is needed around it.
"""

from __future__ import annotations

import os

from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from django.urls import path, re_path

from examples.django.app import App
from examples.django.shared import sessions
from htagweb_asgi import HtagASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.settings")
django_app = get_asgi_application()  # sets Django up: call it before importing any model

ui = HtagASGI(App, sessions=sessions)

application = ProtocolTypeRouter(
    {
        "http": URLRouter([path("ui/", ui), re_path(r"", django_app)]),
        # checks the websocket's Origin against ALLOWED_HOSTS (no cross-site websockets)
        "websocket": AllowedHostsOriginValidator(URLRouter([path("ui/", ui)])),
        "lifespan": ui,  # uvicorn, hypercorn: start and stop with the server
    }
)
