"""An htag App at /ui beside a Quart application, on asyncio or on trio.

    pip install 'htagweb-asgi[integrations]'          # or: htagweb-asgi quart quart-trio hypercorn
    hypercorn examples.quart.app:app                  # asyncio, then open http://localhost:8000/
    hypercorn -k trio examples.quart.app:trio_app     # trio: Quart's trio flavour (quart-trio)

Quart has no mount of its own: the Dispatcher serves /ui with HtagASGI and the rest with Quart,
and gives the server's lifespan events to both (Quart's ``before_serving`` hooks still run).
It works on both loops, unlike hypercorn's DispatcherMiddleware (asyncio only).
"""

from __future__ import annotations

import time

from quart import Blueprint, Quart
from quart_trio import QuartTrio

from examples.hello import App
from htagweb_asgi import Dispatcher, HtagASGI

pages = Blueprint("pages", __name__)


@pages.route("/")
async def home() -> str:
    links = "<a href='/ui/'>Open the htag App</a> · <a href='/api/time'>JSON</a>"
    return f"<h1>Quart home</h1><p>{links}</p>"


@pages.route("/api/time")
async def api_time() -> dict[str, float]:
    return {"time": time.time()}


def build(quart_class: type[Quart]) -> Dispatcher:
    web = quart_class(__name__)
    web.register_blueprint(pages)
    return Dispatcher({"/ui": HtagASGI(App)}, default=web)


app = build(Quart)
trio_app = build(QuartTrio)
