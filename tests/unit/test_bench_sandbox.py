"""bench/sandbox.py: htagweb 1.0.0's private /tmp keeps a clone (and venv) that lives under /tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import sandbox


def test_only_paths_under_tmp_are_kept_outermost_first(tmp_path: Path) -> None:
    clone = Path("/tmp/some-clone")
    kept = sandbox.kept_under_tmp([clone, clone / "bench" / ".venv-htagweb", "/work/x"])
    assert kept == [clone]
    assert sandbox.kept_under_tmp(["/work/x", "/opt/venv"]) == []


def test_the_kept_paths_are_bound_into_the_private_tmp_before_it_covers_tmp() -> None:
    command = sandbox.sandboxed(["python", "-V"], "/tmp/hwb-1/tmp", ["/tmp/my clone"])
    script = command[command.index("-c") + 1]
    bind = """mount --bind '/tmp/my clone' "$0"/'my clone'"""
    assert bind in script and script.index(bind) < script.index('mount --rbind "$0" /tmp')
    assert command[-3:] == ["/tmp/hwb-1/tmp", "python", "-V"]


def test_keeping_tmp_itself_is_refused() -> None:
    with pytest.raises(sandbox.IsolationError):
        sandbox.sandboxed(["true"], "/tmp/hwb-1/tmp", ["/tmp"])
