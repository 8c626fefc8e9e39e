"""An htag App mounted at /ui inside a FastAPI application, beside a JSON route.

    pip install 'htagweb-asgi[server]' fastapi
    uvicorn examples.fastapi.app:app        # then open http://localhost:8000/

FastAPI does not pass lifespan events to mounted apps: hand HtagASGI's to FastAPI so that
shutting the server down also ends the users' processes at once.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from examples.hello import App
from htagweb_asgi import HtagASGI

ui = HtagASGI(App)
app = FastAPI(lifespan=ui.lifespan)
app.mount("/ui", ui)


@app.get("/", response_class=HTMLResponse)
async def home() -> str:
    links = "<a href='/ui/'>Open the htag App</a> · <a href='/api/time'>JSON</a>"
    return f"<h1>FastAPI home</h1><p>{links}</p>"


@app.get("/api/time")
async def api_time() -> dict[str, float]:
    import time

    return {"time": time.time()}
