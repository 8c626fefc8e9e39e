"""Runtime directories: short enough for unix sockets whatever $TMPDIR is, private, ours."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from htagweb_asgi import paths


@pytest.mark.parametrize("length", [20, 48, 65, 100])
def test_the_default_fits_socket_paths_whatever_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    tmp = tmp_path / ("t" * max(1, length - len(str(tmp_path)) - 1))
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches the temp dir
    base = paths.default_base()
    assert len(base.encode()) <= paths.MAX_BASE_LENGTH
    assert paths.default_base() == base  # every worker and `ps` find the same one
    if len(str(tmp)) + len(f"/htagweb-asgi-{os.getuid()}") <= paths.MAX_BASE_LENGTH:
        assert base.startswith(str(tmp))  # $TMPDIR is used whenever it fits
    socket = os.path.join(paths.app_directory(base, "port:1", "m:App@/", ""), "0" * 32 + ".sock")
    assert len(socket.encode()) <= 100


def test_two_long_temp_dirs_get_two_short_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    found = set()
    for name in ("a" * 60, "b" * 60):
        (tmp_path / name).mkdir()
        monkeypatch.setenv("TMPDIR", str(tmp_path / name))
        monkeypatch.setattr(tempfile, "tempdir", None)
        found.add(paths.default_base())
    assert len(found) == 2


def test_an_explicit_runtime_dir_too_long_is_refused_with_the_limit(tmp_path: Path) -> None:
    with pytest.raises(paths.RuntimeDirError, match=f"at most {paths.MAX_BASE_LENGTH} bytes"):
        paths.check_base(str(tmp_path / ("x" * 60)))
