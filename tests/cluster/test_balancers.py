"""Users spread over both nodes, and each user's pages, websocket and POSTs reach their one
process: with affinity (nginx on the node cookie, HAProxy's inserted cookie) and without
(nginx round robin: the node that gets a request forwards it to the owner)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.conftest import balancer
from tests.support.client import Visitor, click, updated_text
from tests.support.cluster import Node, answered_by, owner_of

pytestmark = pytest.mark.anyio

USERS = 4


async def one_user(url: str) -> tuple[set[int], set[str]]:
    """A user's pages (reloads), clicks and POSTs: the pids that answered them, and the
    nodes the balancer sent the user's requests to."""
    async with Visitor(url) as visitor:
        page = await visitor.page("/ui/")
        pids = {page.pid}
        landed: set[str] = set()
        async with visitor.websocket(page) as ws:
            assert updated_text(await click(ws, page, "inc")) == ["1"]
        for _ in range(3):
            again = await visitor.page("/ui/")
            assert again.texts["value"] == "1"  # the same App, whichever node got the request
            pids.add(again.pid)
            # twice in a row: round robin sends the second to the other node
            landed.update(answered_by(url, visitor.http.cookies) for _ in range(2))
        http_page = await visitor.page("/ui/http/")
        for expected in ("1", "2", "3"):
            response = await visitor.post(http_page, http_page.click("inc"))
            assert response.status_code == 200, response.text
            assert updated_text(response.json()) == [expected]
        assert (await visitor.page("/ui/http/")).texts["value"] == "3"
        return pids, landed


@pytest.mark.parametrize(
    "example", ["nginx-round-robin.conf", "nginx-affinity.conf", "haproxy.cfg"]
)
async def test_users_spread_and_reach_their_one_process(
    example: str, cluster: list[Node], scratch: Path
) -> None:
    """Each user's requests reach one process; users are spread over both nodes; with an
    affinity recipe, a user's requests all land on the node owning their process."""
    owners = []
    with balancer(example, cluster, scratch) as url:
        for user in range(USERS):
            if user % 2:  # each user makes an even number of requests: shift round robin
                answered_by(url)
            pids, landed = await one_user(url)
            assert len(pids) == 1, f"{example}: a user reached {len(pids)} processes"
            owner = owner_of(pids.pop(), cluster).name
            owners.append(owner)
            if example != "nginx-round-robin.conf":
                assert landed == {owner}, f"{example}: requests landed on {landed}"
            else:
                assert landed == {"a", "b"}  # round robin: forwarded half of the time
    assert set(owners) == {"a", "b"}, f"{example}: every user on {owners}"
