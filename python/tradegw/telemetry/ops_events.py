"""The telemetry queue: typed ops events for operators, never for consumers (the plan's LM-08).

Where the gateway notices or decides something an operator should know of — a book resynced,
a feed went quiet, a merge window was suppressed, a consumer fell behind — it emits an
:class:`OpsEvent` here. Each carries the ``trace_id`` of what caused it (the frame, the fragment,
the control message; a fresh id when nothing did) and, where the gateway took a decision (to
resync, to suppress, to coalesce, to spill, to apply a control message), a ``decision_id`` that
names that decision in the logs too.

The queue is bounded and :meth:`OpsEventQueue.emit` never waits: when it is full the oldest
event is dropped and counted (:attr:`OpsEventQueue.dropped`), so a flood can cost operators
old events, never the data path its latency. Nothing here is connected to the dispatcher:
consumers cannot subscribe to ops events. The schemas are in ``docs/ops-events.md``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

from tradegw.schema import new_trace_id

__all__ = [
    "OPS_EVENT_NAMES",
    "RESERVED_PREFIXES",
    "OpsEvent",
    "OpsEventQueue",
    "log_ops_events",
    "new_decision_id",
]

OPS_EVENT_NAMES: Final = frozenset(
    {
        "book.resync",
        "book.checksum_mismatch",
        "feed.stale",
        "feed.reconnect",
        "feed.restarted",
        "merge.late_dropped",
        "merge.suppressed_partial",
        "dispatch.coalesced",
        "dispatch.spilled",
        "nats.connected",
        "nats.disconnected",
        "nats.exec_backlog",
        "nats.stream_error",
        "shard.conflict",
        "shard.takeover",
    }
)
"""The fixed event names (``docs/ops-events.md`` has each one's fields)."""

RESERVED_PREFIXES: Final = ("control.", "order.")
"""Families named per message: ``control.<message>`` for each control message handled
(``control.subscribe``, ``control.set_trading_mode``, ``control.invalid``, ...); ``order.*``
is reserved for order entry."""

DEFAULT_CAPACITY: Final = 10_000


def new_decision_id() -> str:
    """A fresh decision id: 16 lowercase hex characters, from the same generator as trace
    ids, so the two never collide within a process."""
    return new_trace_id()


@dataclass(frozen=True, slots=True)
class OpsEvent:
    """One thing an operator should know of. Not a :mod:`tradegw.schema` event: it has no
    stream, no sequence and no route to consumers."""

    name: str
    """``book.resync``, ``feed.stale``, ... (:data:`OPS_EVENT_NAMES`, ``control.*``,
    ``order.*``)."""
    time_ns: int
    """Wall clock, ns since the epoch, when it was emitted."""
    trace_id: str
    """The trace id of what caused it (a frame, a fragment, a control message), or a fresh
    one when nothing carried one."""
    decision_id: str | None = None
    """Set when the gateway took a decision (resync, suppress, coalesce, spill, apply)."""
    venue: str | None = None
    symbol: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    """What else the event's schema names (``reason``, ``consumer``, ``merge_id``, ...)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (one flat object: the common fields, then the event's own)."""
        return {
            "event": self.name,
            "time_ns": self.time_ns,
            "trace_id": self.trace_id,
            "decision_id": self.decision_id,
            "venue": self.venue,
            "symbol": self.symbol,
            **self.fields,
        }


class OpsEventQueue:
    """A bounded queue of :class:`OpsEvent` with one reader, plus a short history.

    ``emit`` is synchronous and O(1); it is called from the frame handlers, the dispatcher
    and the merge engine, none of which may ever wait on operators.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, history: int = 64) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self._pending: deque[OpsEvent] = deque()
        self.recent: deque[OpsEvent] = deque(maxlen=history)
        """The last ``history`` events emitted, read or not (the console shows them)."""
        self.dropped = 0
        """Events dropped unread because the queue was full (the oldest go first)."""
        self.emitted: dict[str, int] = {}
        """Events emitted, by name."""
        self._waiter: asyncio.Future[None] | None = None

    def emit(
        self,
        name: str,
        *,
        trace_id: str | None = None,
        decision_id: str | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        **fields: Any,
    ) -> OpsEvent:
        """Queues one event and returns it; drops the oldest unread one when full.

        Raises:
            ValueError: ``name`` is neither one of :data:`OPS_EVENT_NAMES` nor under a
                reserved prefix (a misspelt name must fail loudly in tests, not create a
                new family operators never hear of).
        """
        if name not in OPS_EVENT_NAMES and not name.startswith(RESERVED_PREFIXES):
            raise ValueError(f"unknown ops event {name!r}")
        event = OpsEvent(
            name,
            time.time_ns(),
            trace_id if trace_id is not None else new_trace_id(),
            decision_id,
            venue,
            symbol,
            fields,
        )
        pending = self._pending
        if len(pending) >= self.capacity:
            pending.popleft()
            self.dropped += 1
        pending.append(event)
        self.recent.append(event)
        self.emitted[name] = self.emitted.get(name, 0) + 1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return event

    def __len__(self) -> int:
        return len(self._pending)

    def drain(self, max_events: int | None = None) -> list[OpsEvent]:
        """Takes up to ``max_events`` (None: all) unread events, oldest first."""
        pending = self._pending
        if max_events is None or max_events >= len(pending):
            out = list(pending)
            pending.clear()
            return out
        return [pending.popleft() for _ in range(max_events)]

    async def batches(self, max_events: int = 256) -> AsyncIterator[list[OpsEvent]]:
        """Every event from now on, in order, as lists of up to ``max_events``; waits while
        there is none. For the one reader of the queue (``tradegw run`` logs them)."""
        while True:
            if self._pending:
                yield self.drain(max_events)
                continue
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


_RECORD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


async def log_ops_events(
    queue: OpsEventQueue, logger: logging.Logger | None = None, level: int = logging.INFO
) -> None:
    """Reads ``queue`` until cancelled, writing each event to ``logger`` (``tradegw.ops``)
    as one record whose fields are the event's: with the JSON formatter, one line each."""
    log = logger or logging.getLogger("tradegw.ops")
    async for batch in queue.batches():
        if not log.isEnabledFor(level):
            continue
        for event in batch:
            fields = event.to_dict()
            # A field named like a LogRecord attribute would make logging raise.
            extra = {(f"ops_{k}" if k in _RECORD_FIELDS else k): v for k, v in fields.items()}
            log.log(level, "%s", event.name, extra=extra)
