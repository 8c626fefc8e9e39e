"""Signed session ids and the process keys derived from them."""

from __future__ import annotations

import pytest

from htagweb_asgi.sessions.cookie import Signer

SIGNER = Signer(b"k" * 32)


def test_a_signed_id_verifies_and_a_tampered_one_does_not() -> None:
    session_id = SIGNER.new_session_id()
    cookie = SIGNER.sign(session_id)
    assert SIGNER.unsign(cookie) == session_id
    flipped = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    assert SIGNER.unsign(flipped) is None
    assert Signer(b"other key 123456").unsign(cookie) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x",
        "../../etc/passwd",
        "a" * 87,
        "é" * 87,
        "a" * 43 + "/" + "b" * 43,
        "a" * 10_000,
        None,
    ],
)
def test_forged_truncated_oversized_or_path_like_values_are_refused(value: str | None) -> None:
    assert SIGNER.unsign(value) is None


def test_ids_are_random_and_keys_are_file_name_safe() -> None:
    ids = {SIGNER.new_session_id() for _ in range(100)}
    assert len(ids) == 100
    key = SIGNER.process_key(ids.pop(), "tests.support.apps.counter:App@/")
    assert len(key) == 32 and set(key) <= set("0123456789abcdef")


def test_the_key_depends_on_session_app_and_secret() -> None:
    keys = {
        SIGNER.process_key("s1", "a"),
        SIGNER.process_key("s2", "a"),
        SIGNER.process_key("s1", "b"),
        Signer(b"another secret!!").process_key("s1", "a"),
    }
    assert len(keys) == 4


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Signer(b"short")
