"""Send the cases with bounded concurrency and say what went wrong.

Wrong is: a 5xx (a 503 too: the server has no reason to be unavailable here), a websocket
closed as crashed (4004), as unavailable (4007) or by a server error (1011), a page socket
that stops answering without saying why, or the fuzzing session's page losing its process.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import anyio

from htagweb_asgi.protocol.codes import Close
from tests.support.fuzz.cases import Context, HttpCase, WsCase
from tests.support.rawwire import CLOSE, PING, PONG, TEXT, RawWebSocket, exchange, frame

BAD_CLOSES = {int(Close.CRASHED), int(Close.UNAVAILABLE), 1011}
READY = {"htagweb": {"ready": True}}
_probes = itertools.count()


@dataclass
class Report:
    """What the fuzz saw: counts per family and outcome, and the problems."""

    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)  # per family, summed over cases
    problems: list[str] = field(default_factory=list)

    def problem(self, case: HttpCase | WsCase, what: str) -> None:
        if isinstance(case, HttpCase):
            sent = repr(case.raw[:400])
        else:
            sent = f"{case.target[:200]!r} {case.headers!r} {[f[:120] for f in case.frames]!r}"
        self.problems.append(f"{case.family}: {what}: {sent}")


async def run_all(cases: list[HttpCase | WsCase], ctx: Context, concurrency: int) -> Report:
    report = Report()
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(case: HttpCase | WsCase) -> None:
        async with limiter:
            report.inputs += case.inputs
            started = time.monotonic()
            try:
                if isinstance(case, HttpCase):
                    await _http(case, ctx, report)
                else:
                    await _websocket(case, ctx, report)
            except TimeoutError:
                report.outcomes[f"{case.family} timed out"] += 1
                report.problem(case, "no answer in time")
            spent = time.monotonic() - started
            report.seconds[case.family] = report.seconds.get(case.family, 0.0) + spent

    async with anyio.create_task_group() as tasks:
        for case in cases:
            tasks.start_soon(one, case)
    return report


async def _http(case: HttpCase, ctx: Context, report: Report) -> None:
    response = await exchange(ctx.port, case.raw, then_close=case.leave)
    report.outcomes[f"{case.family} {response.status if not case.leave else 'left'}"] += 1
    if response.status is not None and response.status >= 500:
        report.problem(case, f"HTTP {response.status} {response.body[:300]!r}")


async def _websocket(case: WsCase, ctx: Context, report: Report) -> None:
    response, ws = await RawWebSocket.open(ctx.port, case.target, list(case.headers))
    if ws is None:
        report.outcomes[f"{case.family} handshake {response.status}"] += 1
        if response.status is None or response.status >= 500:
            report.problem(case, f"handshake answered {response.status}")
        return
    try:
        await _converse(case, ctx, ws, report)
    finally:
        ws.close()


async def _converse(case: WsCase, ctx: Context, ws: RawWebSocket, report: Report) -> None:
    first = await _message(ws)
    if case.frames:
        if first != READY:
            report.problem(case, f"the page's socket was not ready: {first!r}")
            return
        first = None
    marker = f"probe-{next(_probes)}"
    if case.frames:
        probe = dict(json.loads(ctx.ws_click), event={"value": marker})
        extra = [frame(TEXT, json.dumps(probe).encode())] if case.until == "probe" else []
        await ws.send(b"".join([*case.frames, *extra]))
    if case.leave:
        report.outcomes[f"{case.family} left"] += 1
        return
    told, closed, answered = await _read(ws, marker, first, case.until)
    report.outcomes[
        f"{case.family} {'answered' if answered else f'told {told} closed {closed}'}"
    ] += 1
    if BAD_CLOSES & set(told) or (closed in BAD_CLOSES and not case.sends_close):
        report.problem(case, f"told {told}, closed with {closed}")
    if case.until == "probe" and not answered and not told and closed is None:
        port = ws.writer.get_extra_info("sockname")[1]
        report.problem(case, f"the probe got no reply, and the socket no close code (port {port})")


async def _read(
    ws: RawWebSocket, marker: str, message: object, until: str
) -> tuple[list[int], int | None, bool]:
    """Read until `until` says (see WsCase): return the codes the host asked the page to
    close with (answered as the page's script does), the code of the server's close frame,
    and whether the probe was answered."""
    told: list[int] = []
    while True:
        if isinstance(message, int):  # the server's close frame
            return told, message, False
        if isinstance(message, dict) and "close" in message.get("htagweb", {}):
            told.append(int(message["htagweb"]["close"]))
            await ws.send(frame(CLOSE, told[-1].to_bytes(2, "big")))
        elif until == "probe" and isinstance(message, (dict, list, str)):
            if marker in json.dumps(message):
                return told, None, True
        elif until == "answer" and message is not None:
            await ws.send(frame(CLOSE, (1000).to_bytes(2, "big")))
            until = "end"
        message = await _message(ws)
        if message is None:
            return told, None, False


async def _message(ws: RawWebSocket) -> object:
    """The next data message (JSON decoded when it is, else the text or the bytes), the
    server's close code (an int), or None when the connection ended without one."""
    while True:
        opcode, data = await ws.receive()
        if opcode == PING:
            await ws.send(frame(PONG, data))
            continue
        if opcode == CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        if opcode == TEXT:
            text = data.decode(errors="replace")
            try:
                return json.loads(text)
            except ValueError:
                return text
        return data
