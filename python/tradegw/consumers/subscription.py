"""One consumer's queue: coalescing under backpressure, lossless for trades and exec reports.

What a slow consumer gets, by event type:

- ``Ticker``, ``KlineSummary``: latest wins per (provider, symbol, type), in queue position.
- ``BookSnapshot``: latest wins the same way, unless book diffs were queued after it (then it
  is appended: replacing it would put a newer book under older diffs). While a backlog
  marker (below) is pending for the book, a snapshot is absorbed: the marker delivers a newer
  one.
- ``BookUpdate``: delivered one by one while the queue is below ``max_pending``. Past it, the
  book's further diffs are replaced by one marker that becomes a fresh ``BookSnapshot``
  (``coalesced=True``) of the assembled book *when the consumer takes it*, so the consumer's
  own book is never wrong and it skips straight to the present.
- ``BookStatus``: always delivered, in order.
- ``MergedBookSnapshot``, ``MergedBBO``: latest wins per merge (``merge_id``) and type, in
  queue position: two merges of one symbol never replace each other's events.
- ``Trade``: never coalesced; past ``4 * max_pending`` queued events, trades spill to the DLQ
  (counted), never silently.
- ``ExecReport``: never coalesced, throttled or dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tradegw._core import Coalescer
from tradegw.telemetry.histogram import LatencyHistogram

if TYPE_CHECKING:
    from tradegw.dispatch.dispatcher import Dispatcher
    from tradegw.schema import Event

_COALESCE_LATEST = frozenset({"Ticker", "KlineSummary"})
_COALESCE_PER_MERGE = frozenset({"MergedBookSnapshot", "MergedBBO"})
_BATCH = 64
_TRADE_SPILL_FACTOR = 4


class _BookMarker:
    """Stands in the queue for "a fresh snapshot of this book at delivery time"."""

    __slots__ = ("provider", "symbol")

    def __init__(self, provider: str, symbol: str) -> None:
        self.provider = provider
        self.symbol = symbol


@dataclass(slots=True)
class SubscriptionStats:
    """What one subscription has seen."""

    offered: int = 0
    delivered: int = 0
    coalesced: int = 0
    snapshots_for_backlog: int = 0
    spilled: int = 0
    out_of_order: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class Subscription:
    """An async iterator of events for one consumer. Create it with
    :meth:`tradegw.gateway.Gateway.subscribe` (or :meth:`Dispatcher.subscribe`)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        venues: Collection[str] | None = None,
        symbols: Collection[str] | None,
        types: Collection[str] | None,
        name: str = "",
        max_pending: int = 10_000,
    ) -> None:
        if max_pending <= 0:
            raise ValueError(f"max_pending must be positive, got {max_pending}")
        self.name = name
        self.venues = frozenset(venues) if venues is not None else None
        self.symbols = frozenset(symbols) if symbols is not None else None
        self.types = frozenset(types) if types is not None else None
        self.max_pending = max_pending
        self.stats = SubscriptionStats()
        self._dispatcher = dispatcher
        self._queue = Coalescer()
        self._keys: dict[tuple[str, str, str], int] = {}
        self._ready: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        # Books whose diffs are currently replaced by a pending marker.
        self._marked: set[tuple[str, str]] = set()
        # Diffs pushed per book: part of a snapshot's coalescing key, so a snapshot replaces a
        # pending one only if no diff was queued after it (a newer book must never sit in
        # front of older diffs).
        self._diff_gen: dict[tuple[str, str], int] = {}
        # Last delivered seq per stream, to prove (and count violations of) ordering.
        self._last_seq: dict[tuple[str, str, str], int] = {}

    # ---- routing ----

    def wants(self, provider: str, symbol: str, event_type: str) -> bool:
        """Whether this subscription takes events of ``provider``'s ``symbol`` and
        ``event_type`` (each filter None = any)."""
        return (
            (self.venues is None or provider in self.venues)
            and (self.symbols is None or symbol in self.symbols)
            and (self.types is None or event_type in self.types)
        )

    def _key(self, provider: str, symbol: str, kind: str) -> int:
        k = (provider, symbol, kind)
        key = self._keys.get(k)
        if key is None:
            # From 1: a snapshot's key is (key << 32) | diff generation, so key 0 would make
            # the first book's snapshot keys equal the small keys of other events, and a
            # ticker could replace a pending snapshot.
            key = self._keys[k] = len(self._keys) + 1
        return key

    # ---- producer side (the dispatcher, same event loop) ----

    def offer(self, event: Event) -> None:
        """Queues one event under this subscription's backpressure policy."""
        if self._closed:
            return
        self.stats.offered += 1
        etype = event.event_type
        queue = self._queue
        if etype == "BookUpdate":
            book = (event.provider, event.symbol)
            if book in self._marked:
                self.stats.coalesced += 1
                return
            if len(queue) >= self.max_pending:
                self._marked.add(book)
                self.stats.coalesced += 1
                queue.push(self._key(*book, "marker"), _BookMarker(*book), True)
            else:
                self._diff_gen[book] = self._diff_gen.get(book, 0) + 1
                queue.push(0, event, False)
        elif etype in _COALESCE_LATEST:
            if queue.push(self._key(event.provider, event.symbol, etype), event, True):
                self.stats.coalesced += 1
        elif etype == "BookSnapshot":
            book = (event.provider, event.symbol)
            if book in self._marked:
                self.stats.coalesced += 1
                return
            gen = self._diff_gen.get(book, 0) & 0xFFFF_FFFF
            if queue.push((self._key(*book, etype) << 32) | gen, event, True):
                self.stats.coalesced += 1
        elif etype == "Trade" and len(queue) >= self.max_pending * _TRADE_SPILL_FACTOR:
            self._spill(event)
            return
        elif etype in _COALESCE_PER_MERGE:
            # Keyed by merge, not symbol: merges of one symbol share (provider, symbol).
            merge_key = self._key(event.provider, event.merge_id or "", etype)
            if queue.push(merge_key, event, True):
                self.stats.coalesced += 1
        else:
            queue.push(0, event, False)
        self._wake()

    def _spill(self, event: Event) -> None:
        from tradegw.schema import to_json

        self.stats.spilled += 1
        telemetry = self._dispatcher.telemetry
        telemetry.counters.inc("consumer_spilled", self.name)
        telemetry.dlq.put(
            provider=event.provider,
            reason="consumer_overflow",
            raw=to_json(event),
            trace_id=event.trace_id,
            detail=f"consumer {self.name!r} has {len(self._queue)} events queued",
            consumer=self.name,
        )

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ---- consumer side ----

    def __len__(self) -> int:
        return len(self._queue) + len(self._ready)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._ready:
                return self._ready.popleft()
            if len(self._queue):
                self._take()
                continue
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def batches(self, max_events: int = 512) -> AsyncIterator[list[Event]]:
        """The same events as ``async for event in sub``, in the same order, as lists of up
        to ``max_events``: everything queued when the consumer wakes comes in one list, so
        a burst costs the consumer one wake-up and one loop turn instead of one per event.

        >>> async for batch in sub.batches():
        ...     for event in batch:
        ...         ...
        """
        if max_events <= 0:
            raise ValueError(f"max_events must be positive, got {max_events}")
        return self._batches(max_events)

    async def _batches(self, max_events: int) -> AsyncIterator[list[Event]]:
        ready = self._ready
        while True:
            while len(ready) < max_events and len(self._queue):
                self._take()
            if ready:
                if len(ready) <= max_events:
                    batch = list(ready)
                    ready.clear()
                else:
                    batch = [ready.popleft() for _ in range(max_events)]
                yield batch
                continue
            if self._closed:
                return
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def get_nowait(self) -> Event | None:
        """The next event if one is queued, else None (for polling consumers)."""
        if not self._ready and len(self._queue):
            self._take()
        return self._ready.popleft() if self._ready else None

    def _take(self) -> None:
        now = time.time_ns()
        stats = self.stats
        for item in self._queue.pop(_BATCH):
            if isinstance(item, _BookMarker):
                book = (item.provider, item.symbol)
                self._marked.discard(book)
                snap = self._dispatcher.book_snapshot(item.provider, item.symbol)
                if snap is None:
                    # The book is resyncing: its BookStatus is queued, and the provider
                    # publishes a snapshot once it is synced again.
                    continue
                snap.coalesced = True
                snap.routing_version = self._dispatcher.routing.version
                stats.snapshots_for_backlog += 1
                event: Event = snap
            else:
                event = item  # type: ignore[assignment]
                seq = event.seq_provider
                if seq is not None:
                    skey = (event.provider, event.symbol, event.event_type)
                    last = self._last_seq.get(skey)
                    if last is not None and seq <= last:
                        stats.out_of_order += 1
                    self._last_seq[skey] = seq
            stats.delivered += 1
            stats.by_type[event.event_type] = stats.by_type.get(event.event_type, 0) + 1
            stats.latency.record(now - event.ingest_ts)
            self._ready.append(event)

    def close(self) -> None:
        """Ends the subscription: the iterator finishes once what is queued is consumed."""
        if not self._closed:
            self._closed = True
            self._dispatcher.unsubscribe(self)
            self._wake()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def queue_stats(self) -> dict[str, int]:
        """The underlying coalescer's counters."""
        return self._queue.stats()
