"""What the gateway answers over NATS request/reply: book snapshots and control messages.

``<prefix>.snapshot.<venue>.<symbol>`` (one subscription per venue this gateway runs, so a
venue nobody runs gets NATS's "no responders" at once): the reply is the book as assembled
now, a :class:`~tradegw.schema.BookSnapshot` whose ``seq_provider`` is that of the last
BookUpdate it includes (also in ``Tradegw-Update-Seq``), built in the same step as that number
is read, so the next diff of the book is exactly that + 1. A book that is not there or not
synced gets an empty reply with ``Tradegw-Error`` (``unknown_symbol``, ``not_synced``).

``<prefix>.control``: the body is one control message, exactly what the control socket takes;
the reply is its :class:`~tradegw.bus.messages.Ack` as JSON. A bad message is answered with an
error Ack, as on the socket.

A shard (``shard:`` in the config, :mod:`tradegw.natsbus.shard`) answers snapshot requests only
for the streams it holds and is silent on the others (another shard answers them), and takes
control messages on ``<prefix>.control.<shard>`` as they are and on ``<prefix>.control`` routed
by :mod:`tradegw.natsbus.control_routing`: its Ack when the message is about it, else an empty
reply with ``Tradegw-Skipped``; every reply of a shard carries ``Tradegw-Shard``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tradegw.bus.control import MAX_MESSAGE_BYTES
from tradegw.bus.messages import CONTROL_MESSAGE
from tradegw.natsbus import control_routing
from tradegw.natsbus.sink import PUBLISH_ERRORS
from tradegw.natsbus.wire import (
    HEADER_EPOCH,
    HEADER_ERROR,
    HEADER_SHARD,
    HEADER_SKIPPED,
    HEADER_UPDATE_SEQ,
    Subjects,
)
from tradegw.schema import to_json

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from tradegw.bus.messages import Ack, ControlMessage
    from tradegw.gateway import Gateway
    from tradegw.natsbus.stats import NatsStats

log = logging.getLogger("tradegw.nats")

MAX_CONTROL_REQUESTS = 64
"""Control messages handled at once (a SubmitOrder waits for its venue); more are refused
with an error Ack, as the socket refuses clients beyond its limit."""


class SnapshotService:
    """Answers snapshot requests for the venues ``gw`` runs."""

    def __init__(self, gw: Gateway, subjects: Subjects, epoch: str, stats: NatsStats) -> None:
        self._gw = gw
        self._subjects = subjects
        self._epoch = epoch
        self._stats = stats
        self._nc: Client | None = None

    async def subscribe(self, nc: Client) -> None:
        """Starts answering on ``nc`` (subscriptions outlive reconnects)."""
        self._nc = nc
        for venue in self._gw.providers:
            await nc.subscribe(self._subjects.snapshot_venue(venue), cb=self._on_request)

    def answer(self, subject: str) -> tuple[bytes, dict[str, str]] | None:
        """The reply body and headers for a request on ``subject``; None when this gateway
        is a shard that does not hold that stream (it stays silent: the holder answers)."""
        where = self._subjects.parse_snapshot(subject)
        provider = self._gw.providers.get(where[0]) if where is not None else None
        if where is None or provider is None:
            return self._error("bad_subject")
        venue, symbol = where
        shard = self._gw.shard
        if shard is not None and not shard.holds(venue, symbol):
            self._stats.requests["snapshot", "not_holder"] += 1
            return None
        # Read together, with nothing in between: the book and the last diff it includes.
        snapshot = provider.book_snapshot(venue, symbol)
        update_seq = provider.last_update_seq(symbol)
        if snapshot is None:
            return self._error("not_synced" if symbol in provider.books() else "unknown_symbol")
        snapshot.seq_provider = update_seq
        snapshot.coalesced = True
        self._stats.requests["snapshot", "ok"] += 1
        headers = {HEADER_EPOCH: self._epoch, HEADER_UPDATE_SEQ: str(update_seq)}
        return to_json(snapshot), headers

    def _error(self, code: str) -> tuple[bytes, dict[str, str]]:
        self._stats.requests["snapshot", code] += 1
        return b"", {HEADER_EPOCH: self._epoch, HEADER_ERROR: code}

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply or self._nc is None:
            return
        answer = self.answer(msg.subject)
        if answer is None:
            return
        body, headers = answer
        with contextlib.suppress(*PUBLISH_ERRORS):
            await self._nc.publish(msg.reply, body, headers=headers)


class ControlService:
    """Answers control messages with ``gw``'s control bus, like the control socket."""

    def __init__(self, gw: Gateway, subjects: Subjects, stats: NatsStats) -> None:
        self._gw = gw
        self._subjects = subjects
        self._stats = stats
        self._tasks: set[asyncio.Task[None]] = set()
        self._nc: Client | None = None

    async def subscribe(self, nc: Client) -> None:
        """Starts answering on ``nc``: ``<prefix>.control``, and ``<prefix>.control.<shard>``
        for a shard."""
        self._nc = nc
        await nc.subscribe(self._subjects.control, cb=self._on_broadcast)
        shard = self._gw.shard
        if shard is not None:
            await nc.subscribe(self._subjects.control_shard(shard.name), cb=self._on_request)

    async def _on_broadcast(self, msg: Msg) -> None:
        await self._take(msg, routed=self._gw.shard is not None)

    async def _on_request(self, msg: Msg) -> None:
        await self._take(msg, routed=False)

    async def _take(self, msg: Msg, *, routed: bool) -> None:
        if not msg.reply:
            return
        # Each in a task of its own: a SubmitOrder waits for its venue, and messages behind
        # it must not.
        if len(self._tasks) >= MAX_CONTROL_REQUESTS:
            refusal = self._gw.control_bus.refuse(f"more than {MAX_CONTROL_REQUESTS} at once")
            await self._reply(msg, refusal)
            return
        task = asyncio.get_running_loop().create_task(
            self._handle(msg, routed), name="nats-control"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Msg, routed: bool) -> None:
        if len(msg.data) > MAX_MESSAGE_BYTES:
            ack = self._gw.control_bus.refuse(f"message longer than {MAX_MESSAGE_BYTES} bytes")
            await self._reply(msg, ack)
            return
        message: ControlMessage | bytes = msg.data
        shard = self._gw.shard
        if routed and shard is not None:
            try:
                parsed = CONTROL_MESSAGE.validate_json(msg.data)
            except ValidationError:
                parsed = None  # the bus answers it with the error Ack, naming the fields
            if parsed is not None:
                routed_to = control_routing.route(parsed, self._gw, shard)
                if isinstance(routed_to, str):
                    self._stats.requests["control", "skipped"] += 1
                    await self._publish(msg, b"", {HEADER_SKIPPED: routed_to})
                    return
                message = routed_to
        ack = await self._gw.control_async(message)
        await self._reply(msg, ack)

    async def _reply(self, msg: Msg, ack: Ack) -> None:
        self._stats.requests["control", "ok" if ack.ok else "refused"] += 1
        await self._publish(msg, ack.model_dump_json(exclude_none=True).encode(), {})

    async def _publish(self, msg: Msg, body: bytes, headers: dict[str, str]) -> None:
        shard = self._gw.shard
        if shard is not None:
            headers[HEADER_SHARD] = shard.name
        try:
            if self._nc is None:
                await msg.respond(body)
            else:
                await self._nc.publish(msg.reply, body, headers=headers or None)
        except PUBLISH_ERRORS as e:
            log.warning("NATS: a control reply was not sent: %r", e)

    async def stop(self) -> None:
        """Waits for the messages being handled (their replies may no longer be sent)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
