"""What a PAGE frame tells a user process about the page load, whatever htag it runs.

The worker never imports htag, so it cannot know which parts of a request the App will use:
it sends them all, and the process's engine takes what its htag major understands. htag 1
builds its App from ``init`` (the query string as init arguments, see web/query.py);
htag 2 builds its App with no arguments and lets it read ``self.request`` (URL, query
parameters, headers), and resets it on ``?n``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Init = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class PageRequest:
    """One page load, as the user process sees it (JSON-serializable)."""

    init: Init  # htag 1: the App's (args, kwargs), parsed from the query string
    url: str = "http://localhost/"  # as the browser asked for it, with the mount prefix
    path: str = "/"  # the full path (root_path included), as ASGI's ``path``
    root_path: str = ""
    query_string: str = ""
    # as received (latin-1), minus the host's own session cookie: the App has the session
    headers: list[tuple[str, str]] = field(default_factory=list)
    client: tuple[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        args, kwargs = self.init
        data["init"] = [list(args), kwargs]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageRequest:
        """The request in a PAGE frame (KeyError or TypeError when malformed: a host bug)."""
        args, kwargs = data["init"]
        client = data.get("client")
        return cls(
            init=(tuple(args), dict(kwargs)),
            url=str(data.get("url", "http://localhost/")),
            path=str(data.get("path", "/")),
            root_path=str(data.get("root_path", "")),
            query_string=str(data.get("query_string", "")),
            headers=[(str(k), str(v)) for k, v in data.get("headers", [])],
            client=(str(client[0]), int(client[1])) if client else None,
        )
