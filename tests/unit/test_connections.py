"""What a worker holds open per session, and the template's refusals it remembers."""

from __future__ import annotations

from htagweb_asgi.web.connections import OpenWebsockets
from htagweb_asgi.web.refusals import RefusalCache
from tests.support.clock import FakeClock


def test_websockets_per_session_are_counted_while_open() -> None:
    open_ = OpenWebsockets(per_session=2)
    with open_.hold("s") as first, open_.hold("s") as second:
        assert first and second
        with open_.hold("s") as third, open_.hold("other") as elsewhere:
            assert not third and elsewhere
        assert len(open_) == 2
    assert len(open_) == 0
    with open_.hold("s") as again:
        assert again


def test_a_refused_address_is_refused_here_until_its_time() -> None:
    clock = FakeClock()
    cache = RefusalCache(clock)
    assert cache.retry_after("10.0.0.1") is None  # nothing known: ask the template
    cache.remember("10.0.0.1", 1.5)
    assert cache.retry_after("10.0.0.1") == 2
    assert cache.retry_after("10.0.0.2") is None
    clock.advance(1.5)
    assert cache.retry_after("10.0.0.1") is None
    cache.remember("", 10)  # an unknown address is never cached
    assert cache.retry_after("") is None
