"""Server-Sent Events and POST in a cluster: a page whose requests land on the node that does
not own its process is served through the link, as its websocket would be."""

from __future__ import annotations

import json

import pytest

from tests.support.client import Visitor, updated_text
from tests.support.cluster import Node, owner_of, same_browser
from tests.support.pageclient import NumberedPage

pytestmark = pytest.mark.anyio


async def test_a_pages_stream_and_posts_on_the_other_node_reach_its_process(
    cluster: list[Node],
) -> None:
    """The process is on a; the page's event stream and POSTs go to b (hypercorn -k trio):
    its click is applied once (a resend gets the same reply), and another tab's click on a
    reaches its stream on b as a numbered push."""
    a, b = cluster
    async with Visitor(a.url) as on_a:
        page = NumberedPage(on_a, await on_a.page("/ui/"))
        other_tab = NumberedPage(on_a, await on_a.page("/ui/"))
        assert owner_of(page.page.pid, cluster) is a
        async with same_browser(on_a, b) as on_b:
            via_b = NumberedPage(on_b, page.page)
            async with via_b.events() as stream:
                assert await stream.control() == {"ready": True}
                iid, inc = via_b.interaction("inc")
                reply = await via_b.post(inc)
                assert reply.status_code == 200 and reply.json()["reply"] == iid
                assert updated_text(reply.json()["message"]) == ["1"]
                resent = await via_b.post(inc)
                assert resent.json() == reply.json()  # answered again, not run again
                _, other_inc = other_tab.interaction("inc")
                assert updated_text((await other_tab.post(other_inc)).json()["message"]) == ["2"]
                pushed = json.loads((await stream.next()).data)
                assert pushed["push"] > page.last_push
                assert updated_text(pushed["message"]) == ["2"]
