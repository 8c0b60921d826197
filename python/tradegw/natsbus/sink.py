"""The NATS sink: a consumer of the dispatcher like any other, publishing what it takes.

Market data goes to core NATS, ``<prefix>.md.<venue>.<symbol>.<type>``, one event per
message (:func:`tradegw.schema.to_json`), numbered per wire stream (``Tradegw-Seq``, with the
``Tradegw-Epoch`` of this run) so a receiver can tell what it missed. While NATS is away
market data is dropped (counted): core NATS keeps nothing for anyone, and a book's receivers
resync from a snapshot when they are back.

ExecReports go to the JetStream stream, ``<prefix>.exec.<venue>.<symbol>``, through the
:class:`~tradegw.natsbus.outbox.ExecOutbox`, one at a time in order: the next is published
once JetStream has acked the one before, so a stream's reports are stored in their order
even when a publish has to be retried. Each carries ``Nats-Msg-Id``
``<ledger>.<venue>.<symbol>.<seq_provider>``, the same for every retry and every run of the
gateway on the same order ledger, so a publish retried after a lost ack is stored once.

The sink's own queue is a :class:`~tradegw.consumers.Subscription`: a slow or dead server
degrades it by the dispatcher's rules (market data coalesces, its book diffs become one fresh
snapshot, trades spill past four times ``max_pending``; ExecReports are never dropped) and
never slows the in-process consumers, which have queues of their own.
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
    stream_key,
    symbol_token,
)
from tradegw.schema import ExecReport, to_json
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from tradegw.consumers.subscription import Subscription
    from tradegw.natsbus.outbox import ExecOutbox, OutboxItem
    from tradegw.natsbus.stats import NatsStats
    from tradegw.schema import Event
    from tradegw.telemetry.ops_events import OpsEventQueue

log = logging.getLogger("tradegw.nats")

PUBLISH_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)
"""What a publish or request over a connection that is failing raises."""
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
        outbox: ExecOutbox,
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
        """Set while the outbox is empty (every ExecReport taken is stored by JetStream)."""
        self._spooling = False

    # ---- market data and ExecReports in ----

    async def run(self) -> None:
        """Takes the subscription's events until it ends."""
        async for batch in self.sub.batches():
            for event in batch:
                if isinstance(event, ExecReport):
                    self._put_exec(event)
                else:
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

    def _put_exec(self, report: ExecReport) -> None:
        seq = report.seq_provider
        if seq is not None:
            msg_id = exec_msg_id(self.ledger, report.provider, report.symbol, seq)
        else:  # not from the order entry (which numbers every report): unique, not stable
            token = symbol_token(report.symbol)
            msg_id = f"{self.epoch}.{report.provider}.{token}.e{report.event_id}"
        self.outbox.put(msg_id, self.subjects.exec(report.provider, report.symbol), to_json(report))
        self.drained.clear()
        self._wake.set()

    def wake(self) -> None:
        """Something changed (connected, the stream is ready): look at the outbox again."""
        self._wake.set()

    # ---- ExecReports out ----

    async def run_exec(self) -> None:
        """Publishes the outbox's head to JetStream until cancelled, one at a time."""
        delay = _RETRY_S[0]
        while True:
            item = self.outbox.head()
            if item is None:
                self.drained.set()
            js = self.js
            nc = self.nc
            if item is None or js is None or nc is None or not nc.is_connected:
                self._wake.clear()
                if item is not None and self.outbox.in_memory:
                    self.spool("disconnected")
                await self._wake.wait()
                continue
            if not self.stream_ready:
                self._wake.clear()
                await self._wake.wait()
                continue
            if await self._publish_exec(js, item):
                delay = _RETRY_S[0]
                if self._spooling and not self.outbox.on_disk:
                    self._spooling = False
                    log.info("NATS: ExecReport spool drained")
                continue
            self.stats.exec_retries += 1
            self.spool("publish_failed")
            await asyncio.sleep(delay)
            delay = min(_RETRY_S[1], delay * 2)

    async def _publish_exec(self, js: JetStreamContext, item: OutboxItem) -> bool:
        try:
            ack = await js.publish(
                item.subject,
                item.payload,
                timeout=self.ack_timeout_s,
                stream=self.stream,
                headers={HEADER_MSG_ID: item.msg_id, HEADER_EPOCH: self.epoch},
            )
        except nats.js.errors.NoStreamResponseError:
            # No stream takes the subject any more (a server that lost its store): the
            # bridge makes it again, and wakes us.
            self.stream_ready = False
            if self.on_stream_lost is not None:
                self.on_stream_lost()
            return False
        except PUBLISH_ERRORS as e:
            log.debug("ExecReport %s not stored yet: %r", item.msg_id, e)
            return False
        if ack.duplicate:
            self.stats.exec_duplicates += 1
        self.outbox.acked(item)
        self.stats.published["exec"] += 1
        return True

    def spool(self, reason: str) -> None:
        """Moves the ExecReports held in memory to disk (NATS away, a publish failed)."""
        moved = self.outbox.spill()
        if moved and not self._spooling:
            self._spooling = True
            self._ops.emit(
                "nats.spooling",
                decision_id=new_decision_id(),
                reason=reason,
                spooled=moved,
                pending=len(self.outbox),
            )
            log.warning(
                "NATS: %d ExecReport(s) spooled to disk (%s); republished in order when JetStream "
                "acks again",
                moved,
                reason,
            )
