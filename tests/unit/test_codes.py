"""One table of close codes: the page reads it from its config, never from a copy."""

from __future__ import annotations

import re
from pathlib import Path

from htagweb_asgi.protocol.codes import Close, page_table

CLIENT = Path(__file__).resolve().parents[2] / "htagweb_asgi" / "static" / "client.js"


def test_the_client_names_codes_and_never_writes_their_numbers() -> None:
    script = CLIENT.read_text()
    assert not re.findall(r"\b(?:1003|1007|1008|1009|4\d{3})\b", script)
    used = set(re.findall(r"CODES\.([A-Z_]+)", script))
    used |= {
        name
        for group in re.findall(r"isOneOf\(code, \[([^\]]*)\]", script, re.S)
        for name in re.findall(r'"([A-Z_]+)"', group)
    }
    assert used and used <= set(Close.__members__)


def test_the_page_table_is_the_enum() -> None:
    assert page_table() == {code.name: code.value for code in Close}
    assert len(set(page_table().values())) == len(Close)  # no two names for one code
