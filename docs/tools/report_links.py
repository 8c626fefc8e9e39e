"""mkdocs hook: docs/benchmarks.md shows BENCHMARKS.md (the line ``--8<-- "BENCHMARKS.md:5"``,
which pymdownx.snippets would include as it is). That report's links are relative to the
repository root, the site's to docs/: the report is included here instead, its links to
``docs/...`` (the pictures, docs/img/bench/) made relative to docs/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_INCLUDE = re.compile(r'^--8<-- "BENCHMARKS\.md:(\d+)"$', re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    if page.file.src_uri != "benchmarks.md":
        return markdown
    root = Path(config["config_file_path"]).parent

    def include(match: re.Match[str]) -> str:
        lines = (root / "BENCHMARKS.md").read_text().splitlines()[int(match.group(1)) - 1 :]
        return "\n".join(lines).replace("](docs/", "](")

    return _INCLUDE.sub(include, markdown)
