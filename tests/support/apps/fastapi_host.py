"""FastAPI with HtagASGI mounted at /ui and a JSON route beside it."""

from __future__ import annotations

import os

from fastapi import FastAPI

from htagweb_asgi import HtagASGI
from tests.support.htagversion import app_ref

ui = HtagASGI(app_ref("counter:App"), runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"))
app = FastAPI(lifespan=ui.lifespan)
app.mount("/ui", ui)


@app.get("/api/status")
async def status() -> dict[str, str]:
    return {"status": "ok"}
