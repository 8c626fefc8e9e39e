"""The page's interaction ids and the process's reply and push wrappers (proc/pagewire.py)."""

from __future__ import annotations

import json

import pytest

from htagweb_asgi.proc.pagewire import (
    InteractionId,
    page_token,
    push_message,
    reply_message,
    unwrap,
)
from htagweb_asgi.protocol.codes import Close, Rejected

PAGE = "0123456789abcdef"


def test_a_wrapped_interaction_gives_its_id_and_htags_message() -> None:
    payload = json.dumps({"iid": f"{PAGE}:7", "message": {"id": 1, "method": "__on__"}})
    iid, message = unwrap(payload.encode())
    assert iid == InteractionId(PAGE, 7) and iid.text == f"{PAGE}:7"
    assert json.loads(message) == {"id": 1, "method": "__on__"}


@pytest.mark.parametrize(
    "payload",
    [b'{"id": 1, "method": "__on__"}', b"{nope", b"[" * 100_000, b'["iid"]', b'{"x": "iid"}'],
)
def test_anything_else_goes_to_the_engine_as_it_is(payload: bytes) -> None:
    """A bare client's message, or one the engine refuses with its own code."""
    assert unwrap(payload) == (None, payload)


@pytest.mark.parametrize(
    "iid", [None, 7, "", "0123:1", f"{PAGE}:0", f"{PAGE}:-1", f"{PAGE.upper()}:1", f"{PAGE}:1x"]
)
def test_a_bad_id_is_refused(iid: object) -> None:
    payload = json.dumps({"iid": iid, "message": {}}).encode()
    with pytest.raises(Rejected) as refused:
        unwrap(payload)
    assert refused.value.code == Close.POLICY_VIOLATION


def test_a_wrapper_with_more_members_is_refused() -> None:
    payload = json.dumps({"iid": f"{PAGE}:1", "message": {}, "more": 1}).encode()
    with pytest.raises(Rejected):
        unwrap(payload)


def test_replies_and_pushes_are_json_the_page_reads() -> None:
    reply = reply_message(InteractionId(PAGE, 3), 12, b'{"update":{}}')
    assert json.loads(reply) == {"reply": f"{PAGE}:3", "after": 12, "message": {"update": {}}}
    assert json.loads(push_message(13, b"[1]")) == {"push": 13, "message": [1]}


def test_page_tokens() -> None:
    assert page_token(PAGE) == PAGE
    assert page_token("x" * 16) is None and page_token(None) is None and page_token(1) is None
