"""The secret key: given, from the environment, or generated once and shared."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from htagweb_asgi.sessions.cookie import resolve_secret


def test_the_given_key_wins_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTAGWEB_SECRET_KEY", "from the environment")
    assert resolve_secret("given", str(tmp_path)) == b"given"
    assert resolve_secret(None, str(tmp_path)) == b"from the environment"
    assert not os.listdir(tmp_path)


def test_a_generated_key_is_private_and_every_caller_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers starting together must all read the one key that won the race."""
    monkeypatch.delenv("HTAGWEB_SECRET_KEY", raising=False)
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(resolve_secret(None, str(tmp_path))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert os.listdir(tmp_path) == ["secret_key"]
    assert os.stat(tmp_path / "secret_key").st_mode & 0o077 == 0
