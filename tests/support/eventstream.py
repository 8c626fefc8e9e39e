"""Read a ``text/event-stream`` as a browser's EventSource does (WHATWG HTML §9.2.6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    id: str | None


class EventParser:
    """Feed bytes as they come; get the events they complete."""

    def __init__(self) -> None:
        self._buffer = ""
        self._name = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_id: str | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk.decode()
        events: list[Event] = []
        while True:
            cut = min(
                (i for i in (self._buffer.find("\n"), self._buffer.find("\r")) if i >= 0),
                default=-1,
            )
            if cut < 0:
                return events
            line = self._buffer[:cut]
            skip = 2 if self._buffer[cut : cut + 2] == "\r\n" else 1
            self._buffer = self._buffer[cut + skip :]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._name = ""
                return None
            event = Event(self._name or "message", "\n".join(self._data), self.last_id)
            self._name, self._data = "", []
            return event
        if line.startswith(":"):
            self.comments += 1
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._name = value
        elif field == "id" and "\0" not in value:
            self.last_id = value
        return None
