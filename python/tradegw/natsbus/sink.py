"""The NATS sink: a consumer of the dispatcher like any other, publishing what it takes.

Market data goes to core NATS, ``<prefix>.md.<venue>.<symbol>.<type>``, one event per
message (:func:`tradegw.schema.to_json`), numbered per wire stream (``Tradegw-Seq``, with the
``Tradegw-Epoch`` of this run) so a receiver can tell what it missed. While NATS is away
market data is dropped (counted): core NATS keeps nothing for anyone, and a book's receivers
resync from a snapshot when they are back.

ExecReports go to the JetStream stream, ``<prefix>.exec.<venue>.<symbol>``, from the order
ledger's outbox (:class:`~tradegw.natsbus.outbox.OutboxCursor`), where the ledger kept each
one in the transaction of the change it announces; the sink holds none of its own. At every
(re)connection it asks JetStream for the last report of each stream the outbox keeps, then
publishes every report after it, in the outbox's order, before anything newer: so a report
the gateway made but JetStream never stored — a crash, an outage, a publish lost — goes out
from this run or the next one on the same ledger. One at a time: the next is published once
JetStream has acked the one before, so a stream's reports are stored in their order even
when a publish has to be retried. Each carries ``Nats-Msg-Id``
``<ledger>.<venue>.<symbol>.<seq_provider>``, the same for every retry and every run of the
gateway on the same order ledger, so a report published twice is stored once.

The sink's market data queue is a :class:`~tradegw.consumers.Subscription`: a slow or dead
server degrades it by the dispatcher's rules (market data coalesces, its book diffs become
one fresh snapshot, trades spill past four times ``max_pending``) and never slows the
in-process consumers, which have queues of their own. ExecReports do not pass through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors

from tradegw.natsbus.wire import (
    HEADER_EPOCH,
    HEADER_MSG_ID,
    HEADER_SEQ,
    Subjects,
    exec_msg_id,
    parse_exec_msg_id,
    stream_key,
)
from tradegw.schema import ExecReport, to_json
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from tradegw.consumers.subscription import Subscription
    from tradegw.natsbus.outbox import OutboxCursor
    from tradegw.natsbus.stats import NatsStats
    from tradegw.orders.ledger import OutboxRow, Stream
    from tradegw.schema import Event
    from tradegw.telemetry.ops_events import OpsEventQueue

log = logging.getLogger("tradegw.nats")

PUBLISH_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)
"""What a publish or request over a connection that is failing raises."""
_POSITION_ERRORS = (*PUBLISH_ERRORS, nats.js.errors.APIError)
_RETRY_S = (0.05, 2.0)
"""First and longest wait before a failed JetStream publish is tried again."""


class NatsSink:
    """Publishes what ``sub`` takes (see the module docstring). ``ledger`` is the order
    ledger's identity (part of every ExecReport's id)."""

    def __init__(
        self,
        sub: Subscription,
        subjects: Subjects,
        *,
        epoch: str,
        ledger: str,
        stream: str,
        ack_timeout_s: float,
        outbox: OutboxCursor,
        stats: NatsStats,
        ops: OpsEventQueue,
    ) -> None:
        self.sub = sub
        self.subjects = subjects
        self.epoch = epoch
        self.ledger = ledger
        self.stream = stream
        self.ack_timeout_s = ack_timeout_s
        self.outbox = outbox
        self.stats = stats
        self._ops = ops
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.stream_ready = False
        """Set by the bridge once the stream exists on the server."""
        self.on_stream_lost: Callable[[], None] | None = None
        """Called when JetStream has no stream for an ExecReport's subject."""
        self._seq: dict[tuple[str, str, str], int] = {}
        self._subject: dict[tuple[str, str, str], str] = {}
        self._wake = asyncio.Event()
        self.drained = asyncio.Event()
        """Set while the sink has no ExecReport left to publish (JetStream has every one
        the outbox holds for it)."""

    # ---- market data ----

    async def run(self) -> None:
        """Takes the subscription's market data until it ends."""
        async for batch in self.sub.batches():
            for event in batch:
                # ExecReports come from the ledger's outbox (run_exec); the subscription
                # leaves them out, and one that came anyway is already there.
                if not isinstance(event, ExecReport):
                    await self._publish_md(event)

    async def _publish_md(self, event: Event) -> None:
        key = stream_key(event.provider, event.symbol, event.event_type)
        # Numbered when taken, published or not: a receiver sees the gap of what it missed.
        seq = self._seq[key] = self._seq.get(key, 0) + 1
        nc = self.nc
        if nc is None or not nc.is_connected:
            self.stats.dropped["disconnected"] += 1
            return
        skey = (event.provider, event.symbol, event.event_type)
        subject = self._subject.get(skey)
        if subject is None:
            subject = self._subject[skey] = self.subjects.md(*skey)
        try:
            await nc.publish(
                subject, to_json(event), headers={HEADER_EPOCH: self.epoch, HEADER_SEQ: str(seq)}
            )
        except PUBLISH_ERRORS as e:
            self.stats.dropped["error"] += 1
            log.debug("market data not published on %s: %r", subject, e)
            return
        self.stats.published["md"] += 1

    def wake(self) -> None:
        """Something changed (connected, the stream is ready): look at the outbox again."""
        self._wake.set()

    # ---- ExecReports out ----

    async def run_exec(self) -> None:
        """Publishes the ledger's outbox to JetStream until cancelled, one report at a time,
        each (re)connection first finding where JetStream is (:meth:`_position`)."""
        delay = _RETRY_S[0]
        while True:
            js = self.js
            nc = self.nc
            if js is None or nc is None or not nc.is_connected or not self.stream_ready:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self.outbox.positioned:
                try:
                    await self._position(js)
                except _POSITION_ERRORS as e:
                    log.debug("NATS: where JetStream is not known yet: %r", e)
                    await asyncio.sleep(delay)
                    delay = min(_RETRY_S[1], delay * 2)
                    continue
            row = self.outbox.head()
            if row is None:
                # No await since head(): a report committed now wakes us after the clear.
                self.drained.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self.drained.clear()
            if await self._publish_exec(js, row):
                delay = _RETRY_S[0]
                continue
            self.stats.exec_retries += 1
            # The report may be stored (an ack lost): ask JetStream again before going on.
            self.outbox.positioned = False
            await asyncio.sleep(delay)
            delay = min(_RETRY_S[1], delay * 2)

    async def _position(self, js: JetStreamContext) -> None:
        kept = self.outbox.streams()
        stored = {stream: await self._last_stored(js, stream) for stream in kept}
        lacking = self.outbox.position(stored, kept)
        if lacking:
            self._ops.emit(
                "nats.exec_backlog",
                decision_id=new_decision_id(),
                lacking=lacking,
                streams=sum(1 for s, (_, last) in kept.items() if last > stored[s]),
            )
            log.warning(
                "NATS: JetStream lacks %d ExecReport(s) the order ledger kept; publishing them "
                "in order before new ones",
                lacking,
            )

    async def _last_stored(self, js: JetStreamContext, stream: Stream) -> int:
        """The number of the last report of ``stream`` JetStream has from this ledger."""
        try:
            msg = await js.get_last_msg(self.stream, self.subjects.exec(*stream))
        except nats.js.errors.NotFoundError:
            return 0
        rid = parse_exec_msg_id((msg.headers or {}).get(HEADER_MSG_ID, ""))
        if rid is not None and rid.ledger == self.ledger and (rid.venue, rid.symbol) == stream:
            return rid.seq
        # The subject's last message is another ledger's: go on from what JetStream acked to
        # this sink before (JetStream and remote consumers de-duplicate a repeat by its id).
        return self.outbox.mark(stream)

    async def _publish_exec(self, js: JetStreamContext, row: OutboxRow) -> bool:
        msg_id = exec_msg_id(self.ledger, row.venue, row.symbol, row.seq)
        try:
            ack = await js.publish(
                self.subjects.exec(row.venue, row.symbol),
                row.report,
                timeout=self.ack_timeout_s,
                stream=self.stream,
                headers={HEADER_MSG_ID: msg_id, HEADER_EPOCH: self.epoch},
            )
        except nats.js.errors.NoStreamResponseError:
            # No stream takes the subject any more (a server that lost its store): the
            # bridge makes it again, and wakes us.
            self.stream_ready = False
            if self.on_stream_lost is not None:
                self.on_stream_lost()
            return False
        except PUBLISH_ERRORS as e:
            log.debug("ExecReport %s not stored yet: %r", msg_id, e)
            return False
        if ack.duplicate:
            self.stats.exec_duplicates += 1
        self.outbox.acked(row)
        self.stats.published["exec"] += 1
        return True
