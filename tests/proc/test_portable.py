"""The portable path with real processes (HTAGWEB_PORTABLE's, Windows'): spawned user
processes on loopback TCP behind the template's secret, told why they end by frames, and
ending by themselves when their template is gone (no signal, no PR_SET_PDEATHSIG)."""

from __future__ import annotations

import json
import os
import shutil
import socket

import anyio
import psutil
import pytest

from htagweb_asgi.proc import portable as portable_spares
from htagweb_asgi.proc.startgate import usable_cpus
from htagweb_asgi.protocol import control, portable
from htagweb_asgi.protocol.codes import Close
from htagweb_asgi.protocol.frames import FrameDecoder, Kind, encode_json
from htagweb_asgi.web.channel import Channel
from htagweb_asgi.web.pool import ProcessPool
from tests.proc.test_admission import attach, key, load
from tests.support.pools import COUNTER, MakeRegistry
from tests.support.waiting import eventually_async, pid_alive, pid_gone

pytestmark = pytest.mark.anyio

SCOPE = {"server": ("127.0.0.1", 4323)}


def portable_pool(registries: MakeRegistry) -> ProcessPool:
    return registries(portable=True, spare_processes=1, evict_after=3600.0).pool(COUNTER, SCOPE)


def first_frame_of_a_stranger(port: int) -> bytes:
    """Connect as a program without the secret: send a made-up proof, then a page request;
    return whatever comes back before the connection closes."""
    with socket.create_connection((portable.LOOPBACK, port), timeout=5) as sock:
        received = b""
        forged = {"node": "worker", "nonce": "00", "mac": "00" * 32}
        sock.sendall(encode_json(Kind.AUTH, forged) + encode_json(Kind.PAGE, {"init": [[], {}]}))
        while data := sock.recv(65536):
            received += data
    return received


async def test_processes_listen_on_loopback_only_and_refuse_strangers(
    registries: MakeRegistry,
) -> None:
    pool = portable_pool(registries)
    pid, _ = await load(pool, 1)
    names = set(os.listdir(pool.directory))
    assert f"{key(1)}.port" in names and portable.CONTROL_FILE in names
    assert not [name for name in names if name.endswith(".sock")]  # no unix socket at all
    listening = [c.laddr for c in psutil.Process(pid).net_connections() if c.status == "LISTEN"]
    assert [address.ip for address in listening] == [portable.LOOPBACK]
    for name in (f"{key(1)}.port", portable.CONTROL_FILE):
        port = portable.read_address(os.path.join(pool.directory, name)).port
        said = await anyio.to_thread.run_sync(first_frame_of_a_stranger, port)
        kinds = [kind for kind, _ in FrameDecoder().feed(said)]
        assert kinds in ([], [Kind.AUTH])  # at most the challenge: no HELLO, no page
    assert pid_alive(pid) and (await load(pool, 1))[0] == pid  # the process lives on
    assert [t["pid"] for t in control.listings(os.path.dirname(pool.directory))]  # ps reaches it


async def test_a_stale_port_file_never_leads_to_another_users_process(
    registries: MakeRegistry,
) -> None:
    """User 2's file pointing at user 1's port (as a file left by a killed template may,
    once the port is reused): the worker finds no process there, not user 1's."""
    pool = portable_pool(registries)
    await load(pool, 1)
    first = portable.read_address(pool.socket_path(key(1)))
    stale = portable.Address(first.port, ident=portable.new_ident())
    portable.write_address(pool.socket_path(key(2)), stale)
    assert await pool.connect(key(2)) is None
    os.unlink(pool.socket_path(key(2)))  # ours: the template cleans up its own files
    channel = await pool.connect(key(1))  # the real file still leads to user 1's
    assert channel is not None
    async with channel:
        assert await channel.hello() > 0


async def test_the_pages_hear_why_by_frames_and_the_process_ends(registries: MakeRegistry) -> None:
    """An operator's kill (EVICT) and a newer page's other arguments (REPLACED): what a
    signal says on the default path, an END frame on the link says here."""
    pool = portable_pool(registries)
    old, instance = await load(pool, 1, query="a")
    async with await attach(pool, 1, instance) as websocket:
        assert (await websocket.receive())[0] is Kind.OK
        new, _ = await load(pool, 1, query="b")
        with anyio.fail_after(10):
            kind, payload = await websocket.receive()
    assert kind is Kind.END and json.loads(payload)["code"] == Close.REPLACED
    await eventually_async(lambda: pid_gone(old), 10)
    _, instance = await load(pool, 1, query="b")
    async with await attach(pool, 1, instance) as websocket:
        assert (await websocket.receive())[0] is Kind.OK
        assert control.kill(os.path.dirname(pool.directory), str(new)) == 1
        with anyio.fail_after(10):
            kind, payload = await websocket.receive()
    assert kind is Kind.END and json.loads(payload)["code"] == Close.EXPIRED
    await eventually_async(lambda: pid_gone(new), 10)


async def test_a_killed_template_leaves_no_orphan(registries: MakeRegistry) -> None:
    """SIGKILL the template: its link closes, and every user process and spare stops."""
    pool = portable_pool(registries)
    pid, _ = await load(pool, 1)
    listing = await pool.listing()
    spares = listing["spares"]
    psutil.Process(int(listing["pid"])).kill()
    await eventually_async(lambda: pid_gone(int(listing["pid"])), 10)
    orphans = [pid, *spares]
    await eventually_async(lambda: all(map(pid_gone, orphans)), 10, message=f"{orphans} stayed")
    shutil.rmtree(pool.directory)  # a SIGKILLed template cannot remove its files


async def test_a_process_that_cannot_enter_its_limits_is_killed_before_it_runs() -> None:
    """Windows puts a process in its jobs between its start and its spec (see limiter.adopt):
    when that fails, the process, still waiting for its spec, is killed and reaped."""
    started: list[int] = []

    def refuse(pid: int) -> dict[str, object]:
        started.append(pid)
        raise PermissionError("Windows refused to put it in the job")

    with (
        socket.create_server((portable.LOOPBACK, 0)) as listener,
        pytest.raises(PermissionError),
    ):
        portable_spares._start(listener, {"placement": {}}, refuse)
    [pid] = started
    assert pid_gone(pid)


async def test_a_worker_that_read_a_killed_templates_secret_reaches_the_next_one(
    registries: MakeRegistry,
) -> None:
    """The template is SIGKILLed (its template.port stays) and another worker starts the
    next one: this worker's control connection reaches it with the secret of the file it
    reads, never the dead one's it read before (else, under the start lock, it concluded
    that no template runs and started a second one, which removed the first's port files)."""
    pool = portable_pool(registries)
    first = int((await pool.status())["pid"])  # this worker read the first's secret
    psutil.Process(first).kill()
    await eventually_async(lambda: pid_gone(first), 10)
    second = int((await portable_pool(registries).status())["pid"])  # another worker
    assert second != first
    async with await pool.addresses.connect(Channel, pool.addresses.control) as channel:
        kind, reply = await channel.request(Kind.STATUS, {})
    assert kind is Kind.DONE and reply["pid"] == second


async def test_a_connection_handed_over_after_the_proof_loses_no_frame(
    registries: MakeRegistry,
) -> None:
    """The cluster's gateway proves the secret, then splices the raw socket to another
    node's link: the process's HELLO, sent right after its proof, must still be in the
    socket, not read ahead into the channel (which then refused to hand it over)."""
    pool = portable_pool(registries)
    pid, _ = await load(pool, 1)
    for _ in range(5):  # the HELLO often arrives with the proof's last frame
        channel = await pool.connect(key(1))
        assert channel is not None
        sock = channel.detach()
        with sock:
            sock.setblocking(True)
            sock.settimeout(5)
            frames: list[tuple[Kind, bytes]] = []
            decoder = FrameDecoder()
            while not frames:
                data = await anyio.to_thread.run_sync(sock.recv, 65536)
                assert data, "the process closed the connection"
                frames = decoder.feed(data)
        assert frames[0][0] is Kind.HELLO and json.loads(frames[0][1])["pid"] == pid


async def test_new_users_arriving_at_once_start_one_interpreter_per_cpu_at_a_time(
    registries: MakeRegistry,
) -> None:
    """No spare ready, eight users at once: each gets its process, and the template never
    has more interpreters starting (not up yet: importing the App) than CPUs."""
    pool = registries(portable=True, spare_processes=0, evict_after=3600.0).pool(COUNTER, SCOPE)
    await pool.status()  # the template runs: what follows is the burst alone
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            listing = await pool.listing()
            rows = [*listing["processes"], *listing["others"]]
            most = max(most, sum(not row["up"] for row in rows))
            await anyio.sleep(0.02)

    pids: dict[int, int] = {}

    async def arrive(n: int) -> None:
        pids[n] = (await load(pool, n))[0]

    with anyio.fail_after(60):
        async with anyio.create_task_group() as watching:
            watching.start_soon(watch)
            async with anyio.create_task_group() as users:
                for n in range(1, 9):
                    users.start_soon(arrive, n)
            watching.cancel_scope.cancel()
    assert len(set(pids.values())) == 8
    assert 1 <= most <= usable_cpus()
