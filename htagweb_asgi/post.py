"""POST of an interaction (``http_only`` Apps): one request, one reply, no push.

With ``parano`` the body and the reply are encrypted envelopes (application/octet-stream),
relayed unread; a body that is not shaped like one is refused (415) before the process sees it.
"""

from __future__ import annotations

import json
import logging

import anyio
from asgiref.typing import ASGISendCallable

from . import envelope, interaction
from .channel import ChannelClosed
from .framing import Kind, load_json
from .httpio import JSON, send_response
from .target import UserTarget
from .websocket import CRASHED, NO_PROCESS, TIMED_OUT

logger = logging.getLogger(__name__)

_NO_STORE = [(b"cache-control", b"no-store")]
SEALED_TYPE = "application/octet-stream"


async def send_ended(send: ASGISendCallable, status: int, code: int, reason: str) -> None:
    """An error reply the page understands: the same codes as the websocket's closes."""
    body = json.dumps({"code": code, "reason": reason}).encode()
    await send_response(send, status, body, content_type=JSON, headers=_NO_STORE)


async def relay_post(
    send: ASGISendCallable,
    target: UserTarget,
    instance: str,
    body: bytes,
    time_limit: float,
    parano: bool = False,
) -> None:
    """Attach to `instance` and run one interaction; answer with its actions or why not."""
    if parano and not envelope.is_envelope(body):
        logger.info("refused a plaintext interaction for a parano App")
        await send_ended(send, 415, interaction.UNSUPPORTED_DATA, envelope.PLAINTEXT_REFUSED)
        return
    channel = await target.connect()
    if channel is None:
        await send_ended(send, 410, NO_PROCESS, "no process for this page")
        return
    sync = target.session_sync()
    async with channel:
        try:
            # SESSION, ATTACH and INTERACT are pipelined: the process answers GONE and drops
            # the interaction when the page belongs to another instance.
            await sync.send_if_changed(channel)
            attach = {"instance": instance, "subscribe": False, "parano": parano}
            await channel.send_json(Kind.ATTACH, attach)
            await channel.send(Kind.INTERACT, body)
            with anyio.fail_after(time_limit):
                kind, _ = await channel.receive()
                if kind is not Kind.OK:
                    await send_ended(send, 410, NO_PROCESS, "no process for this page")
                    return
                kind, payload = await channel.receive()
                while kind is Kind.CHANGES:
                    await sync.save(payload)
                    kind, payload = await channel.receive()
        except ChannelClosed:
            await send_ended(send, 502, CRASHED, "The application stopped unexpectedly.")
            return
        except TimeoutError:
            logger.warning("an interaction took more than %.0f s: killing its process", time_limit)
            await target.kill(channel.pid)
            reason = f"The application took more than {time_limit:g} s to answer and was stopped."
            await send_ended(send, 504, TIMED_OUT, reason)
            return
    await _answer(send, kind, payload, SEALED_TYPE if parano else JSON)


async def _answer(send: ASGISendCallable, kind: Kind, payload: bytes, content_type: str) -> None:
    if kind is Kind.REPLY:
        await send_response(send, 200, payload, content_type=content_type, headers=_NO_STORE)
    elif kind is Kind.REJECT:
        reply = load_json(payload)
        logger.info("refused an interaction: %s", reply["reason"])
        status = 413 if reply["code"] == interaction.MESSAGE_TOO_BIG else 400
        await send_ended(send, status, int(reply["code"]), str(reply["reason"]))
    else:
        await send_ended(send, 410, NO_PROCESS, "the application ended")
