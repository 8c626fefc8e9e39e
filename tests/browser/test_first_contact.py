"""A newcomer's first steps, as the README tells them, in a fresh virtual environment (not the
test environment, which has every optional library): install, serve the example, click."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import ROOT, Server

pytestmark = pytest.mark.browser


def readme_install_commands() -> list[list[str]]:
    """The README's `pip install` lines that install the server extra, as argument lists."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line.split(" #")[0]) if "pip install" in line else []
            if any("[server" in word for word in words):
                commands.append(words[words.index("install") + 1 :])
    return commands


@pytest.fixture(scope="module")
def newcomer_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh venv with only what the README's install line brings."""
    commands = readme_install_commands()
    assert commands, "the README has no `pip install ...[server]` line"
    venv = tmp_path_factory.mktemp("newcomer") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    for arguments in commands:
        done = subprocess.run(
            [python, "-m", "pip", "install", *arguments],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        said = (done.stdout + done.stderr).lower()
        assert "deprecat" not in said and "would be ignored" not in said  # a quiet install
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # what setuptools leaves in the clone
    yield python


def test_the_readme_install_serves_an_example_whose_clicks_work(
    newcomer_python: str, runtime: str, logs: Path, page: Page
) -> None:
    log = logs / "newcomer-hello.log"
    server = Server("script", "examples/hello.py", runtime, log, python=newcomer_python)
    server.start(ready_path="/")
    try:
        page.goto(server.url + "/")
        for clicks in ("1", "2", "3"):
            page.click(".increment")
            expect(page.locator(".count")).to_have_text(clicks)
        page.reload()
        expect(page.locator(".count")).to_have_text("3")  # the same process, kept
        expect(page.locator("#htagweb-offline")).to_have_count(0)
    finally:
        server.close()
