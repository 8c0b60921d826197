"""``tradegw ctl --nats URL``: one control message over NATS request/reply, one Ack."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import nats
import nats.errors
import orjson
from pydantic import ValidationError

from tradegw.bus.messages import Ack
from tradegw.natsbus.wire import Subjects


async def request(
    url: str, message: dict[str, Any] | bytes, timeout_s: float, prefix: str = "tradegw"
) -> Ack:
    """Sends ``message`` to ``<prefix>.control`` at the NATS server ``url``; returns the Ack.

    Raises:
        nats.errors.Error, OSError, TimeoutError: no server, or no gateway answered.
        ValueError: the answer is not an Ack.
    """
    payload = message if isinstance(message, bytes) else orjson.dumps(message)
    nc = await nats.connect(servers=[url], connect_timeout=timeout_s, allow_reconnect=False)
    try:
        reply = await nc.request(Subjects(prefix).control, payload, timeout=timeout_s)
    finally:
        await nc.close()
    try:
        return Ack.model_validate_json(reply.data)
    except ValidationError as e:
        raise ValueError(f"the answer is not an Ack: {reply.data[:80]!r}") from e


def request_over_nats(
    url: str, message: dict[str, Any] | bytes, timeout_s: float, prog: str
) -> Ack | None:
    """:func:`request` for the command line: None, after a line on stderr, when no gateway
    answered."""
    try:
        return asyncio.run(request(url, message, timeout_s))
    except nats.errors.NoRespondersError:
        print(f"{prog}: {url}: no gateway answers control messages there", file=sys.stderr)
    except (nats.errors.Error, OSError, TimeoutError, ValueError) as e:
        print(f"{prog}: {url}: {e or type(e).__name__}", file=sys.stderr)
    return None
