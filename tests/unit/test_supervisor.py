"""The template's loop answering a worker's control connection (no process started: an App
that did not load, so no spare is ever forked)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from htagweb_asgi.proc.activity import ActivityBoard
from htagweb_asgi.proc.supervisor import Supervisor
from htagweb_asgi.protocol.frames import Kind, encode, encode_json
from tests.unit.test_template_requests import CONFIG


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
        made = Supervisor(CONFIG, None, control, ActivityBoard(1), load_error="not loaded")
        yield made
        made.selector.close()


def test_a_worker_gone_before_its_answer_is_no_bad_request(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed while it waits for a SPAWN (or any answer): the template drops its
    connection and says so at INFO; the request itself was fine."""
    ours, theirs = socket.socketpair()
    supervisor._register(ours)
    theirs.sendall(encode_json(Kind.LIST, {}))
    theirs.close()
    with caplog.at_level(logging.INFO, logger="htagweb_asgi.proc.supervisor"):
        supervisor._readable(ours)
    assert ours not in supervisor.connections
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "a worker left before the answer to its LIST request")
    ]


def test_a_malformed_request_is_still_a_warning(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = socket.socketpair()
    supervisor._register(ours)
    theirs.sendall(encode(Kind.SPAWN, b"not json"))
    with caplog.at_level(logging.INFO, logger="htagweb_asgi.proc.supervisor"):
        supervisor._readable(ours)
    theirs.close()
    assert ours not in supervisor.connections
    assert [r.levelname for r in caplog.records] == ["WARNING"]
