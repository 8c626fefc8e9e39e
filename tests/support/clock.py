"""A clock for code that takes one (``clock: Callable[[], float]``): time moves only when
the test moves it, so expiries and idle times are decided by the test, not by the machine."""

from __future__ import annotations


class FakeClock:
    """Seconds on a fake timeline, starting at `now`; call it to read the time."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
