"""A user process's connection to the host once the host closed it: writing to it raises a
ConnectionError, which every caller already expects, on both loops a user process may run.

uvloop raises RuntimeError ("the handler is closed") for a write on a closed transport where
asyncio ignores it: ``UserApp.end`` telling such a connection why the process ends logged
"Task exception was never retrieved" (seen by the fuzz test on a loaded machine).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from htagweb_asgi.proc.user import Connection

pytestmark = pytest.mark.anyio


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    return request.param


async def test_a_write_after_the_connection_closed_is_a_connection_error() -> None:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    connection = Connection(reader, writer)
    theirs.close()
    writer.close()
    await writer.wait_closed()  # the transport is gone, not only closing
    with pytest.raises(ConnectionError):
        await connection.send(b"\x00" * 8)
    await asyncio.sleep(0)  # nothing left for the loop to complain about
