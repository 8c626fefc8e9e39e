"""What a worker holds open per session, and the template's refusals it remembers."""

from __future__ import annotations

import pytest

from htagweb_asgi.web.connections import OpenWebsockets
from htagweb_asgi.web.pool import PoolLimited, RefusalCache
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
    cache.check("10.0.0.1")  # nothing known: ask the template
    cache.remember("10.0.0.1", 1.5)
    with pytest.raises(PoolLimited) as refused:
        cache.check("10.0.0.1")
    assert refused.value.retry_after == 2
    cache.check("10.0.0.2")
    clock.advance(1.5)
    cache.check("10.0.0.1")
    cache.remember("", 10)  # an unknown address is never cached
    cache.check("")
