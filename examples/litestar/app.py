"""An htag App mounted at /ui inside a Litestar application, beside an HTML and a JSON route.

    pip install 'htagweb-asgi[integrations]'      # or: htagweb-asgi litestar uvicorn
    uvicorn examples.litestar.app:app             # then open http://localhost:8000/
    granian --interface asgi examples.litestar.app:app

``asgi("/ui", is_mount=True)`` hands HtagASGI every path below /ui. Litestar does not pass
lifespan events to mounted apps: give it HtagASGI's, so that stopping the server also ends
the users' processes at once.
"""

from __future__ import annotations

import time

from litestar import Litestar, MediaType, asgi, get

from examples.hello import App
from htagweb_asgi import HtagASGI

ui = HtagASGI(App)


@get("/", media_type=MediaType.HTML)
async def home() -> str:
    links = "<a href='/ui/'>Open the htag App</a> · <a href='/api/time'>JSON</a>"
    return f"<h1>Litestar home</h1><p>{links}</p>"


@get("/api/time")
async def api_time() -> dict[str, float]:
    return {"time": time.time()}


app = Litestar(
    # copy_scope=False: HtagASGI never changes the scope it is given, no need to copy it
    route_handlers=[home, api_time, asgi("/ui", is_mount=True, copy_scope=False)(ui)],
    lifespan=[ui.lifespan],
)
