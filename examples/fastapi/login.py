"""Sign in with OpenID Connect (authlib), and the htag App at /ui/ greets the signed-in user.

    pip install 'htagweb-asgi[server,oauth]' fastapi
    export OIDC_METADATA_URL=https://id.example.org/.well-known/openid-configuration
    export OIDC_CLIENT_ID=...
    export OIDC_CLIENT_SECRET=...
    uvicorn examples.fastapi.login:app        # then open http://127.0.0.1:8000/

Environment:

- ``OIDC_METADATA_URL``: the provider's discovery document (``/.well-known/openid-configuration``)
- ``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET``: this site's registration at the provider, whose
  redirect URI is this site's ``/auth`` (``http://127.0.0.1:8000/auth`` above)
- ``OIDC_REDIRECT_URI`` (optional): that redirect URI, when the URL the server sees is not the
  public one (behind a proxy); by default it is derived from the request
- ``OIDC_SCOPE`` (optional): default ``openid profile email``

One ``Sessions`` serves both sides: ``SessionMiddleware`` puts it on ``request.session``
(the routes below and authlib, which keeps its state, nonce and PKCE verifier there between
``/login`` and ``/auth``), and ``HtagASGI`` gives the same session to the App as
``self.session``. ``/auth`` rotates the session id (a session id known before the login, as
planted by an attacker, is worth nothing after it) and ``/logout`` ends the session; both end
the user's processes of the old id at once, so no App keeps running with rights it lost.
"""

from __future__ import annotations

import html
import os

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from htagweb_asgi import HtagASGI, SessionMiddleware, Sessions


def setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if not value:
        raise RuntimeError(f"${name} is not set: see the docstring of examples/fastapi/login.py")
    return value


sessions = Sessions()  # signed cookie, SQLite store shared by every worker (docs/guide/sessions.md)
ui = HtagASGI("examples.fastapi.greeting:App", sessions=sessions)
app = FastAPI(lifespan=ui.lifespan)
app.add_middleware(SessionMiddleware, sessions=sessions)
app.mount("/ui", ui)

oauth = OAuth()
oauth.register(
    "oidc",
    server_metadata_url=setting("OIDC_METADATA_URL"),
    client_id=setting("OIDC_CLIENT_ID"),
    client_secret=setting("OIDC_CLIENT_SECRET"),
    client_kwargs={
        "scope": setting("OIDC_SCOPE", "openid profile email"),
        "code_challenge_method": "S256",  # PKCE: a stolen code is useless without the verifier
    },
)


@app.get("/", response_class=HTMLResponse)
async def home() -> str:
    return "<h1>FastAPI home</h1><p><a href='/ui/'>Open the htag App</a></p>"


@app.get("/login")
async def login(request: Request) -> Response:
    redirect_uri = os.environ.get("OIDC_REDIRECT_URI") or str(request.url_for("auth"))
    return await oauth.oidc.authorize_redirect(request, redirect_uri)


@app.get("/auth")
async def auth(request: Request) -> Response:
    """The provider sends the browser back here with a code (or an error)."""
    try:
        # checks the state, exchanges the code, verifies the id token (signature against the
        # provider's JWKS, issuer, audience, expiry, nonce) into token["userinfo"]
        token = await oauth.oidc.authorize_access_token(request)
        # profile claims may come from the userinfo endpoint only (OpenID Connect Core 5.4)
        profile = await oauth.oidc.userinfo(token=token)
    except OAuthError as exc:  # denied by the user, or a callback that is not ours
        return failure(f"Sign-in failed: {exc.error}")
    claims = token["userinfo"]
    if profile.get("sub") != claims["sub"]:  # OpenID Connect Core 5.3.2
        return failure("Sign-in failed: the userinfo is not about the signed-in user")
    person = {**claims, **profile}
    request.session["user"] = {
        "sub": claims["sub"],
        "name": person.get("name") or person.get("preferred_username") or claims["sub"],
        "email": person.get("email"),
    }
    request.session.rotate()  # a new session id: prevents session fixation
    return RedirectResponse("/ui/", status_code=303)


@app.post("/logout")
async def logout(request: Request) -> Response:
    """A POST (the App's "Sign out" form): another site cannot sign our users out."""
    request.session.end()  # forgets the session and ends its processes at once
    return RedirectResponse("/ui/", status_code=303)


def failure(message: str) -> HTMLResponse:
    body = f"<p class='failure'>{html.escape(message)}</p><p><a href='/ui/'>Back</a></p>"
    return HTMLResponse(body, status_code=400)
