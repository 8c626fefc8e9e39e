"""The test OpenID Connect provider (tests/oidc_provider.py) speaks the protocol: its metadata
validates, a code becomes a verifiable id token and an access token for userinfo, and what a
provider must refuse is refused. Driven through Flask's test client (no server)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc_provider import Client, create_app

ISSUER = "http://127.0.0.1:9"
SITE = Client("site", "s3cret", "http://127.0.0.1:8/auth")


@pytest.fixture
def provider() -> Iterator[FlaskClient]:
    with create_app(ISSUER, SITE).test_client() as client:
        yield client


def authorize(provider: FlaskClient, person: str = "alice", **overrides: str) -> dict[str, Any]:
    """Ask for a code as a browser would (page, then the button); return what the site gets
    back at its redirect URI, with the verifier and nonce it sent."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {
        "response_type": "code",
        "client_id": SITE.client_id,
        "redirect_uri": SITE.redirect_uri,
        "scope": "openid profile email",
        "state": "st",
        "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        **overrides,
    }
    url = "/authorize?" + urlencode(params)
    page = provider.get(url)
    assert page.status_code == 200 and f"Sign in as {person or 'alice'}" in page.text
    answer = provider.post(url, data={"person": person})
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(SITE.redirect_uri + "?")
    back = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    return {**back, "verifier": verifier, "nonce": params["nonce"]}


def exchange(provider: FlaskClient, code: str, verifier: str) -> Any:
    return provider.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": SITE.redirect_uri,
            "code_verifier": verifier,
        },
        auth=(SITE.client_id, SITE.client_secret),
    )


def test_metadata_is_valid_openid_discovery(provider: FlaskClient) -> None:
    metadata = provider.get("/.well-known/openid-configuration").json
    assert metadata is not None
    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == ISSUER and metadata["jwks_uri"] == ISSUER + "/jwks"


def test_a_code_gives_a_signed_id_token_and_userinfo(provider: FlaskClient) -> None:
    back = authorize(provider)
    assert back["state"] == "st"
    response = exchange(provider, back["code"], back["verifier"])
    assert response.status_code == 200, response.text
    tokens = response.json
    jwks = provider.get("/jwks").json
    assert tokens is not None and jwks is not None
    keys = KeySet.import_key_set(jwks)
    id_token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    claims = id_token.claims
    assert id_token.header["kid"] == keys.keys[0].kid
    assert claims["iss"] == ISSUER and claims["aud"] == [SITE.client_id]
    assert claims["sub"] == "u-1001" and claims["nonce"] == back["nonce"]
    assert "name" not in claims  # the profile comes from userinfo
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    profile = provider.get("/userinfo", headers=bearer).json
    assert profile == {
        "sub": "u-1001",
        "name": "Alice Liddell",
        "email": "alice@example.org",
        "email_verified": True,
    }


def test_what_a_provider_must_refuse(provider: FlaskClient) -> None:
    back = authorize(provider)
    assert exchange(provider, back["code"], "wrong-verifier").status_code == 400  # PKCE
    assert exchange(provider, back["code"], back["verifier"]).status_code == 200
    reused = exchange(provider, back["code"], back["verifier"])  # a code is good once
    assert reused.status_code == 400 and reused.json["error"] == "invalid_grant"
    stranger = provider.get("/authorize?" + urlencode({"response_type": "code", "client_id": "x"}))
    assert stranger.status_code == 400  # unknown client: an error page, never a redirect
    elsewhere = provider.get(
        "/authorize?"
        + urlencode(
            {"response_type": "code", "client_id": "site", "redirect_uri": "http://evil.example/"}
        )
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    for nonce, refused in ((back["nonce"], True), ("fresh", False)):  # a nonce is good once
        again = provider.post(
            "/authorize?" + urlencode({**_code_request(), "nonce": nonce}),
            data={"person": "alice"},
        )
        assert ("error_description=Replay" in again.headers["location"]) is refused
    assert provider.get("/userinfo", headers={"authorization": "Bearer nope"}).status_code == 401


def test_deny_sends_the_site_access_denied(provider: FlaskClient) -> None:
    back = authorize(provider, person="")
    assert back["error"] == "access_denied" and back["state"] == "st" and "code" not in back


def _code_request() -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": SITE.client_id,
        "redirect_uri": SITE.redirect_uri,
        "scope": "openid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
