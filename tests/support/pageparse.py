"""Read what a real browser would from a page we served: config, texts, button interactions."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

_INTERACT = re.compile(r"interact\( (.*) \);")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.by_class: dict[str, dict[str, str]] = {}
        self.texts: dict[str, str] = {}
        self.config: dict[str, Any] | None = None
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        css = attributes.get("class")
        if css:
            self.by_class[css] = attributes
            self.texts.setdefault(css, "")
        self._open.append((tag, css if css else attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._open:
            return
        _, name = self._open[-1]
        if name == "htagweb-config":
            self.config = json.loads(data)
        elif name in self.texts:
            self.texts[name] += data


@dataclass
class ParsedPage:
    """A page's htagweb config, element texts and attributes, looked up by CSS class."""

    config: dict[str, Any]
    texts: dict[str, str]
    elements: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> ParsedPage:
        collector = _Collector()
        collector.feed(text)
        assert collector.config is not None, "the page has no htagweb config"
        return cls(collector.config, collector.texts, collector.by_class)

    def click(self, css_class: str) -> str:
        """The JSON message the page's interact() sends when that button is clicked."""
        onclick = self.elements[css_class]["onclick"]
        match = _INTERACT.search(html.unescape(onclick))
        assert match, onclick
        return match.group(1).replace("jevent(event)", "{}")

    @staticmethod
    def texts_of(fragment: str) -> str:
        """The text of an HTML fragment (an update action's value)."""
        return html.unescape(re.sub(r"<[^>]+>", "", fragment))

    @property
    def pid(self) -> int:
        return int(self.texts["pid"].split("=")[1])
