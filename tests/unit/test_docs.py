"""The documentation says what the code does: the close-code table of docs/ lists every code."""

from __future__ import annotations

import re
from pathlib import Path

from htagweb_asgi.protocol.codes import Close

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROW = re.compile(r"^\|\s*(\d{4})\s*\|\s*`([A-Z_]+)`\s*\|", re.MULTILINE)


def documented_codes() -> list[tuple[int, str]]:
    text = (DOCS / "reference" / "close-codes.md").read_text(encoding="utf-8")
    return [(int(code), name) for code, name in ROW.findall(text)]


def test_the_close_code_table_lists_exactly_the_members_of_close() -> None:
    """Every member of Close has one row, with its number and name, and nothing else has."""
    assert documented_codes() == [(int(code), code.name) for code in sorted(Close)]
