"""A small OpenID Connect provider for the login tests, made of authlib's server parts.

- Authorization code flow (``AuthorizationCodeGrant``) with PKCE S256 required
  (``CodeChallenge``) and OpenID Connect (``OpenIDCode``, nonce required): the id token is
  RS256-signed with a key generated when the provider starts, published as JWKS.
- A userinfo endpoint (``UserInfoEndpoint`` behind a bearer-token ``ResourceProtector``).
  The id token carries only ``sub``: the profile (name, email) comes from userinfo, as
  OpenID Connect Core 5.4 allows, so a client that shows the name has used both.
- Discovery metadata at ``/.well-known/openid-configuration``.
- A sign-in page with one button per known person and a "Deny" button.
- Everything in memory: one registered client, codes, tokens, used nonces.

Served as a real server by the tests:

    OIDC_ISSUER=http://127.0.0.1:9000 OIDC_CLIENT_ID=site OIDC_CLIENT_SECRET=s3cret \\
    OIDC_REDIRECT_URI=http://127.0.0.1:8000/auth \\
    uvicorn --factory tests.support.oidc_provider:asgi_app --port 9000

For tests only: the sign-in page asks for no password and carries no CSRF token.
"""

from __future__ import annotations

import hmac
import html
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.wsgi import WsgiToAsgi
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, Response, request
from joserfc.jwk import RSAKey

SCOPES = ["openid", "profile", "email"]
CODE_LIFETIME = 120.0  # seconds; RFC 6749 recommends 10 minutes at most


@dataclass(frozen=True)
class Person:
    sub: str
    name: str
    email: str


PEOPLE = {
    "alice": Person("u-1001", "Alice Liddell", "alice@example.org"),
    "bob": Person("u-1002", "Bob Tables", "bob@example.org"),
}


@dataclass
class Client(ClientMixin):
    """The relying party registered here: a confidential client with one redirect URI."""

    client_id: str
    client_secret: str
    redirect_uri: str
    client_metadata: dict[str, Any] = field(default_factory=dict)  # read by UserInfoEndpoint

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri  # exact match, never a prefix

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))
    expires_at: float = field(default_factory=lambda: time.monotonic() + CODE_LIFETIME)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    access_token: str
    client: Client
    person: Person
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> Person:
        return self.person

    def get_client(self) -> Client:
        return self.client


class Memory:
    """The provider's state: its key, its client, live codes and tokens, nonces seen."""

    def __init__(self, issuer: str, client: Client) -> None:
        self.issuer = issuer.rstrip("/")
        self.client = client
        # a fresh signing key per start: clients find it through the JWKS by its kid
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
        self.key.ensure_kid()
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.nonces: set[tuple[str, str]] = set()
        self.lock = threading.Lock()  # requests may run in several threads

    def nonce_seen(self, client_id: str, nonce: str) -> bool:
        with self.lock:
            return (client_id, nonce) in self.nonces

    def add_code(self, code: Code) -> None:
        with self.lock:
            if code.nonce:  # a nonce is good for one sign-in (OpenIDCode refuses it after)
                self.nonces.add((code.client_id, code.nonce))
            self.codes[code.code] = code


class Server(AuthorizationServer):
    memory: Memory


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def memory(self) -> Memory:
        return self.server.memory

    def save_authorization_code(self, code: str, req: Any) -> None:
        self.memory.add_code(
            Code(
                code=code,
                client_id=req.client.client_id,
                redirect_uri=req.payload.redirect_uri or req.client.redirect_uri,
                scope=req.scope,
                person=req.user,
                nonce=req.payload.data.get("nonce"),
                code_challenge=req.payload.data.get("code_challenge"),
                code_challenge_method=req.payload.data.get("code_challenge_method"),
            )
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.memory.codes.get(code)
        if found is None or found.client_id != client.client_id:
            return None
        return found if time.monotonic() < found.expires_at else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.memory.codes.pop(authorization_code.code, None)  # a code is good for one token

    def authenticate_user(self, authorization_code: Code) -> Person:
        return authorization_code.person


class IdTokens(OpenIDCode):
    """Signs id tokens with the provider's key; they carry ``sub`` and the auth claims."""

    def __init__(self, memory: Memory) -> None:
        super().__init__(require_nonce=True)
        self.memory = memory

    def exists_nonce(self, nonce: str, req: Any) -> bool:
        return self.memory.nonce_seen(req.payload.client_id, nonce)

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.memory.key

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.memory.issuer, "aud": [client.client_id]}

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": str(self.memory.key.kid)}

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        return UserInfo(sub=user.sub)


class Profiles(UserInfoEndpoint):
    """GET /userinfo with the access token: the claims its scopes allow."""

    def __init__(self, memory: Memory, protector: ResourceProtector) -> None:
        super().__init__(resource_protector=protector)
        self.memory = memory

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        claims = UserInfo(sub=user.sub, name=user.name, email=user.email, email_verified=True)
        return claims.filter(scope)

    def get_issuer(self) -> str:
        return self.memory.issuer

    def resolve_private_key(self) -> RSAKey:
        return self.memory.key


class Bearer(BearerTokenValidator):
    def __init__(self, memory: Memory) -> None:
        super().__init__()
        self.memory = memory

    def authenticate_token(self, token_string: str) -> Token | None:
        return self.memory.tokens.get(token_string)


def create_app(issuer: str, client: Client) -> Flask:
    """The provider as a Flask app (WSGI)."""
    memory = Memory(issuer, client)
    flask_app = Flask(__name__)
    flask_app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 600}

    def query_client(client_id: str) -> Client | None:
        return memory.client if client_id == memory.client.client_id else None

    def save_token(token: dict[str, Any], req: Any) -> None:
        memory.tokens[token["access_token"]] = Token(
            token["access_token"], req.client, req.user, token["scope"], token["expires_in"]
        )

    server = Server(flask_app, query_client=query_client, save_token=save_token)
    server.memory = memory
    server.register_grant(CodeGrant, [IdTokens(memory), CodeChallenge(required=True)])
    protector = ResourceProtector()
    protector.register_token_validator(Bearer(memory))
    server.register_endpoint(Profiles(memory, protector))
    add_routes(flask_app, server, memory)
    return flask_app


def add_routes(flask_app: Flask, server: Server, memory: Memory) -> None:
    base = memory.issuer

    @flask_app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "email", "email_verified"],
        }

    @flask_app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [memory.key.as_dict(private=False)]}

    @flask_app.get("/authorize")
    def consent_page() -> Response | str:
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:  # a bad client or redirect URI: an error page, not a redirect
            return server.handle_error_response(None, error)
        who = html.escape(grant.client.client_id)
        buttons = "".join(
            f"<button name='person' value='{key}' class='signin-{key}'>Sign in as {key}</button> "
            for key in PEOPLE
        )
        deny = "<button name='person' value='' class='deny'>Deny</button>"
        # action="": the form posts back to this URL, query string (the request) included
        return (
            "<!doctype html><title>Test provider</title><h1>Test provider</h1>"
            f"<p><b>{who}</b> asks who you are.</p>"
            f"<form method='post' action=''>{buttons}{deny}</form>"
        )

    @flask_app.post("/authorize")
    def consent() -> Response:
        person = PEOPLE.get(request.form.get("person", ""))
        try:
            grant = server.get_consent_grant(end_user=person)
        except OAuth2Error as error:
            return server.handle_error_response(None, error)
        # person None: the client gets error=access_denied at its redirect URI
        return server.create_authorization_response(grant=grant, grant_user=person)

    @flask_app.post("/token")
    def token() -> Response:
        return server.create_token_response()

    @flask_app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        return server.create_endpoint_response("userinfo")


def asgi_app() -> WsgiToAsgi:
    """The provider configured from the environment (see the module docstring), as ASGI."""
    client = Client(
        os.environ["OIDC_CLIENT_ID"],
        os.environ["OIDC_CLIENT_SECRET"],
        os.environ["OIDC_REDIRECT_URI"],
    )
    return WsgiToAsgi(create_app(os.environ["OIDC_ISSUER"], client))  # type: ignore[no-untyped-call]
