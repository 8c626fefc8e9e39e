"""The portable path's pieces without processes: the handshake that proves the template's
secret on every loopback connection, the files naming ports, and how the option is chosen."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from htagweb_asgi.options import TemplateSettings
from htagweb_asgi.proc.endings import TOLD, End
from htagweb_asgi.protocol import portable
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import FrameDecoder, Kind, encode_json
from htagweb_asgi.protocol.handshake import ClientHandshake, ServerHandshake

KEY = b"k" * 32


def frame(data: bytes) -> tuple[Kind, bytes]:
    (decoded,) = FrameDecoder().feed(data)
    return decoded


def test_both_sides_prove_the_secret_and_the_server_learns_the_name() -> None:
    server, client = ServerHandshake(KEY, "template"), ClientHandshake(KEY, "worker")
    answer = server.answer(*frame(client.respond(*frame(server.challenge()))))
    assert answer is not None and server.client == "worker"
    client.verify(*frame(answer))  # does not raise: the server holds the key too


def test_a_client_without_the_secret_gets_nothing() -> None:
    server, stranger = ServerHandshake(KEY, "template"), ClientHandshake(b"x" * 32, "worker")
    assert server.answer(*frame(stranger.respond(*frame(server.challenge())))) is None


def test_a_listener_without_the_secret_is_not_believed() -> None:
    """A port reused by another program after a crash: the worker must not talk to it."""
    impostor, client = ServerHandshake(b"x" * 32, "template"), ClientHandshake(KEY, "worker")
    client.respond(*frame(impostor.challenge()))
    fake = encode_json(Kind.AUTH, {"mac": "00" * 32})
    with pytest.raises(ValueError, match="could not prove"):
        client.verify(*frame(fake))


def test_a_listener_under_another_name_is_not_believed() -> None:
    """A stale port file: the port now belongs to another of our processes (same secret),
    which proves itself under its own name, not the one the file gives."""
    other, client = ServerHandshake(KEY, "user:new"), ClientHandshake(KEY, "worker", "user:old")
    with pytest.raises(ValueError, match="is not"):
        client.respond(*frame(other.challenge()))


def test_a_recorded_proof_does_not_open_another_connection() -> None:
    first, client = ServerHandshake(KEY, "template"), ClientHandshake(KEY, "worker")
    recorded = client.respond(*frame(first.challenge()))
    assert first.answer(*frame(recorded)) is not None
    assert ServerHandshake(KEY, "template").answer(*frame(recorded)) is None  # a new nonce


@pytest.mark.parametrize(
    "kind, payload",
    [(Kind.LEASE, b"{}"), (Kind.AUTH, b"not json"), (Kind.AUTH, b"[1]"), (Kind.AUTH, b"{}")],
)
def test_anything_but_a_proof_is_refused(kind: Kind, payload: bytes) -> None:
    assert ServerHandshake(KEY, "template").answer(kind, payload) is None


def test_address_files_are_written_whole_and_private(tmp_path: Path) -> None:
    path = str(tmp_path / portable.CONTROL_FILE)
    portable.write_address(path, portable.Address(4321, KEY))
    assert portable.read_address(path) == (4321, KEY, "")
    assert portable.read_address(path).peer_name() == portable.TEMPLATE_NAME
    assert os.stat(path).st_mode & 0o777 == 0o600
    portable.write_address(path, portable.Address(1234, ident="ab"))  # replaced at once
    assert portable.read_address(path) == (1234, None, "ab")
    assert portable.read_address(path).peer_name() == "user:ab"
    assert os.listdir(tmp_path) == [portable.CONTROL_FILE]  # no partial file left


@pytest.mark.parametrize("content", ['{"port": 0}', '{"port": 70000}', "[]", "garbage"])
def test_an_address_file_that_is_not_ours_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.port"
    path.write_text(content)
    with pytest.raises(ValueError):
        portable.read_address(str(path))


def test_the_environment_selects_the_portable_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(portable.ENV_VAR, "1")
    settings = TemplateSettings()
    assert settings.portable and settings.start_method == "spawn"
    monkeypatch.setenv(portable.ENV_VAR, "0")
    assert not TemplateSettings().portable
    assert TemplateSettings(portable=True).start_method == "spawn"  # it implies spawn


def test_every_end_but_stop_and_kill_tells_the_pages_why() -> None:
    assert set(TOLD) == set(End) - {End.STOP, End.KILL}
    assert TOLD[End.REPLACED][0] is Close.REPLACED
    assert json.loads(json.dumps(End.EXPIRE.value)) == "inactivity"  # what a frame carries
