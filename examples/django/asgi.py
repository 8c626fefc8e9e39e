"""Plain Django (no Channels): Django's pages and login, and the htag App at /ui/, which sees
the Django session of the browser (``self.session``).

    pip install 'htagweb-asgi[integrations]'      # or: htagweb-asgi django uvicorn
    DJANGO_SETTINGS_MODULE=examples.django.settings python -m django migrate   # once
    uvicorn examples.django.asgi:application      # then open http://localhost:8000/

Django's ASGI handler serves HTTP only and rejects lifespan. The Dispatcher sends /ui and
everything below it, websockets included, to HtagASGI (with ``root_path`` telling it where it
is mounted), the rest to Django, and the server's lifespan events to HtagASGI alone.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from examples.django.app import App
from examples.django.shared import sessions
from htagweb_asgi import Dispatcher, HtagASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django.settings")

application = Dispatcher(
    {"/ui": HtagASGI(App, sessions=sessions)},
    default=get_asgi_application(),
)
