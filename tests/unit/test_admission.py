"""Admission control in the template, without a process: new processes per address (a
token bucket), and the once-a-minute summary of refusals."""

from __future__ import annotations

import logging

import pytest

from htagweb_asgi.options import Admission
from htagweb_asgi.proc.admission import (
    REPORT_EVERY,
    CreationRate,
    RefusalLog,
    Refused,
    retry_after,
)
from tests.support.clock import FakeClock as Clock


def test_a_burst_then_a_steady_rate() -> None:
    clock = Clock()
    rate = CreationRate(burst=3, rate=2.0, clock=clock)
    assert [rate.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.take("a") == pytest.approx(0.5)  # one more in half a second
    clock.now += 0.5
    assert rate.take("a") == 0.0
    assert rate.take("a") == pytest.approx(0.5)
    clock.now += 100  # an idle address refills to its burst, not beyond
    assert [rate.take("a") for _ in range(4)][-1] == pytest.approx(0.5)


def test_each_address_has_its_own_budget() -> None:
    rate = CreationRate(burst=1, rate=1.0, clock=Clock())
    assert rate.take("a") == 0.0
    assert rate.take("a") > 0
    assert rate.take("b") == 0.0


def test_a_creation_that_did_not_happen_is_given_back() -> None:
    rate = CreationRate(burst=1, rate=0.001, clock=Clock())
    assert rate.take("a") == 0.0
    rate.give_back("a")
    assert rate.take("a") == 0.0


def test_many_passing_addresses_do_not_grow_the_table_for_ever() -> None:
    clock = Clock()
    rate = CreationRate(burst=2, rate=1.0, clock=clock)
    for n in range(20_000):  # each address once, one a millisecond: all refill in 2 s
        rate.take(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
        clock.now += 0.001
    assert len(rate) < 10_000


@pytest.mark.parametrize(("seconds", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (30.0, 30)])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header


def test_refusals_are_summed_up_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = RefusalLog(clock)
    with caplog.at_level(logging.INFO, logger="htagweb_asgi.proc.admission"):
        for _ in range(1000):
            log.refusal(Refused.RATE, "10.0.0.1")
        log.refusal(Refused.CLIENT_SHARE, "10.0.0.2")
        log.reclaim()
        assert not caplog.records  # nothing yet: a flood is not a line per request
        clock.now += REPORT_EVERY
        log.refusal(Refused.RATE, "10.0.0.1")
    [refusals, reclaimed] = [record.getMessage() for record in caplog.records]
    assert "1001 (this address starts new processes too fast)" in refusals
    assert "1 (this address holds its share" in refusals
    assert "2 address(es), the busiest 10.0.0.1 (1001)" in refusals
    assert "ended 1 user process(es) whose page never attached" in reclaimed


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("new_process_burst", 0),
        ("new_process_rate", 0.0),
        ("new_process_rate", float("inf")),
        ("client_share", 0.0),
        ("client_share", 1.5),
        ("unattached_timeout", -1.0),
        ("max_websockets_per_page", 0),
        ("max_websockets_per_session", 0),
        ("forwarded_header", "x-real-ip"),
    ],
)
def test_admission_options_are_checked_at_once(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        Admission(**{option: value})  # type: ignore[arg-type]
