"""Every click reply is checked: does it show the counter value this click must produce?

- OwnCounter: a process (or instance) per user, as in htagweb-asgi and htagweb: a new user's
  page shows 0 and each click reply shows that user's previous value + 1.
- SharedCounter: htag's Runner serves one instance to everybody, so the value is global: each
  user must see strictly increasing values, and at the end the values all replies showed must
  be distinct and contiguous (every click counted once, none lost or doubled).
"""

from __future__ import annotations

from typing import Protocol


class WrongValue(Exception):
    """A reply showed a counter value that the click cannot have produced."""


class Seen(Protocol):
    count: int


class Counter:
    def arrived(self, user: Seen, value: int) -> None:
        raise NotImplementedError

    def observe(self, user: Seen, value: int) -> None:
        raise NotImplementedError

    def verify(self) -> list[str]:
        """Problems found across all users (checked once a phase ends)."""
        return []


class OwnCounter(Counter):
    def arrived(self, user: Seen, value: int) -> None:
        if value != 0:
            raise WrongValue(f"a new user's page shows {value}, not 0 (an old process?)")
        user.count = 0

    def observe(self, user: Seen, value: int) -> None:
        if value != user.count + 1:
            raise WrongValue(f"click reply shows {value}, expected {user.count + 1}")
        user.count = value


class SharedCounter(Counter):
    def __init__(self) -> None:
        self.values: list[int] = []

    def arrived(self, user: Seen, value: int) -> None:
        user.count = value

    def observe(self, user: Seen, value: int) -> None:
        if value <= user.count:
            raise WrongValue(f"click reply shows {value} after {user.count}")
        user.count = value
        self.values.append(value)

    def verify(self) -> list[str]:
        values, self.values = sorted(self.values), []
        if not values:
            return []
        problems = []
        if len(set(values)) != len(values):
            problems.append(f"{len(values) - len(set(values))} click replies showed a value twice")
        if values[-1] - values[0] + 1 != len(set(values)):
            problems.append(f"values {values[0]}..{values[-1]} for {len(values)} clicks")
        return problems


def counter_for(kind: str) -> Counter:
    return SharedCounter() if kind == "floor" else OwnCounter()
