"""FastAPI + SessionMiddleware, with the session App mounted at /ui: one session for both."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request

from htagweb_asgi import HtagASGI, SessionMiddleware, Sessions
from tests.support.htagversion import app_ref

sessions = Sessions(runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"))
ui = HtagASGI(
    app_ref("sessionapp:App"),
    sessions=sessions,
    runtime_dir=os.environ.get("HTAGWEB_TEST_RUNTIME"),
)
app = FastAPI(lifespan=ui.lifespan)
app.add_middleware(SessionMiddleware, sessions=sessions)
app.mount("/ui", ui)


@app.get("/hello.txt")
async def hello() -> str:
    return "hello"


@app.get("/api/session")
async def read(request: Request) -> dict[str, object]:
    return dict(request.session)


@app.post("/api/session/{key}")
async def write(key: str, request: Request) -> dict[str, object]:
    request.session[key] = await request.json()
    return dict(request.session)


@app.post("/login")
async def login(request: Request) -> dict[str, str]:
    request.session["user"] = {"name": (await request.json())["name"]}
    request.session.rotate()  # type: ignore[attr-defined]
    return {"ok": "logged in"}


@app.post("/logout")
async def logout(request: Request) -> dict[str, str]:
    request.session.end()  # type: ignore[attr-defined]
    return {"ok": "logged out"}
