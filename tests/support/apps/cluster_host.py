"""A cluster node as the docs configure one: FastAPI with SessionMiddleware, the counter at
/ui (and its http_only twin at /ui/http), login and logout routes; the node's settings come
from the environment ($HTAGWEB_REDIS_URL, $HTAGWEB_NODE, $HTAGWEB_NODE_ADDRESS)."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from htagweb_asgi import HtagASGI, SessionMiddleware, Sessions
from tests.support.htagversion import app_ref

RUNTIME = os.environ.get("HTAGWEB_TEST_RUNTIME")
COUNTER = app_ref("counter:App")

sessions = Sessions(runtime_dir=RUNTIME)
ui = HtagASGI(COUNTER, sessions=sessions, runtime_dir=RUNTIME, timeout_interaction=5)
ui.add_app("/http", COUNTER, http_only=True)
ui.add_app("/session", app_ref("sessionapp:App"))
app = FastAPI(lifespan=ui.lifespan)
app.add_middleware(SessionMiddleware, sessions=sessions)
app.mount("/ui", ui)


@app.get("/hello.txt")
async def hello() -> PlainTextResponse:
    return PlainTextResponse("hello")


@app.get("/node.txt")
async def node() -> PlainTextResponse:
    """Which node answered (what the balancer chose)."""
    return PlainTextResponse(os.environ.get("HTAGWEB_NODE", "?"))


@app.get("/api/session")
async def read(request: Request) -> dict[str, object]:
    return dict(request.session)


@app.post("/login")
async def login(request: Request) -> dict[str, str]:
    request.session["user"] = {"name": (await request.json())["name"]}
    return {"ok": "logged in"}


@app.post("/logout")
async def logout(request: Request) -> dict[str, str]:
    request.session.end()  # type: ignore[attr-defined]
    return {"ok": "logged out"}
