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
- ``ExecReport``: never coalesced, throttled or dropped; queued apart and handed over ahead
  of market data (order is per stream, and no other stream is ordered against them).

Two things bound what a consumer takes, so that no consumer can starve another
(:mod:`tradegw.dispatch.fair_share`): its *budget*, an optional ``_core.TokenBucket`` of
events per second (over budget, its queue coalesces by the rules above while it waits for
tokens; ExecReports need none), and its *time slice*: after about ``slice_ns`` of its own
time with more events waiting, it gives the event loop back for one turn.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tradegw._core import Coalescer, TokenBucket
from tradegw.dispatch.fair_share import SliceClock
from tradegw.dispatch.routing import RouteFilter
from tradegw.telemetry.histogram import LatencyHistogram
from tradegw.telemetry.ops_events import new_decision_id

if TYPE_CHECKING:
    from tradegw.dispatch.dispatcher import Dispatcher
    from tradegw.schema import Event

_COALESCE_LATEST = frozenset({"Ticker", "KlineSummary"})
_COALESCE_PER_MERGE = frozenset({"MergedBookSnapshot", "MergedBBO"})
_BATCH = 64
_TRADE_SPILL_FACTOR = 4
DEFAULT_SLICE_NS = 2_000_000
"""A consumer's time slice (2 ms): long enough that a cheap consumer takes thousands of
events per slice, short enough that three greedy ones still let a socket be read every few
milliseconds."""


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
    throttled: int = 0
    """Times the consumer waited for budget with events queued."""
    throttled_ns: int = 0
    since_ns: int = field(default_factory=time.monotonic_ns)
    """When the subscription was made (CLOCK_MONOTONIC), for rates."""
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
        budget: tuple[float, float] | None = None,
        slice_ns: int = DEFAULT_SLICE_NS,
    ) -> None:
        if max_pending <= 0:
            raise ValueError(f"max_pending must be positive, got {max_pending}")
        # (events per second, burst); the bucket refuses a rate or burst <= 0.
        self._bucket = TokenBucket(*budget) if budget is not None else None
        self.budget = budget
        self._clock = SliceClock(slice_ns)
        self._exec: deque[Event] = deque()
        self.name = name
        self.filters: dict[str, RouteFilter] = {"": RouteFilter.of(venues, symbols, types)}
        """What this consumer receives: the union of its filters, by subscription id (the
        one it was made with is ``""``; the control bus adds and removes others)."""
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
        # Whether the consumer is in a backlog episode in which it coalesced or spilled: the
        # ops event marks the decision once per episode (until the consumer has drained its
        # queue), not once per event, so an overload cannot flood the ops queue.
        self._coalescing = False
        self._spilling = False

    # ---- routing ----

    def wants(self, provider: str, symbol: str, event_type: str) -> bool:
        """Whether any of this consumer's filters takes events of ``provider``'s ``symbol``
        and ``event_type`` (asked once per stream and routing version, not per event)."""
        return any(f.matches(provider, symbol, event_type) for f in self.filters.values())

    def set_filter(self, subscription_id: str, route: RouteFilter | None) -> None:
        """Adds or replaces (None: removes) one of this consumer's filters; routing follows
        from the next event."""
        if route is None:
            self.filters.pop(subscription_id, None)
        else:
            self.filters[subscription_id] = route
        self._dispatcher.routing.changed()

    def set_budget(self, budget: tuple[float, float] | None) -> None:
        """Replaces the consumer's budget (``(events per second, burst)``, None = none)."""
        self._bucket = TokenBucket(*budget) if budget is not None else None
        self.budget = budget

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
                if not self._coalescing:
                    self._coalescing_started(event, "backlog_snapshot")
                queue.push(self._key(*book, "marker"), _BookMarker(*book), True)
            else:
                self._diff_gen[book] = self._diff_gen.get(book, 0) + 1
                queue.push(0, event, False)
        elif etype in _COALESCE_LATEST:
            if queue.push(self._key(event.provider, event.symbol, etype), event, True):
                self.stats.coalesced += 1
                if not self._coalescing:
                    self._coalescing_started(event, "latest_wins")
        elif etype == "BookSnapshot":
            book = (event.provider, event.symbol)
            if book in self._marked:
                self.stats.coalesced += 1
                return
            gen = self._diff_gen.get(book, 0) & 0xFFFF_FFFF
            if queue.push((self._key(*book, etype) << 32) | gen, event, True):
                self.stats.coalesced += 1
                if not self._coalescing:
                    self._coalescing_started(event, "latest_wins")
        elif etype == "ExecReport":
            self._exec.append(event)
        elif etype == "Trade" and len(queue) >= self.max_pending * _TRADE_SPILL_FACTOR:
            self._spill(event)
            return
        elif etype in _COALESCE_PER_MERGE:
            # Keyed by merge, not symbol: merges of one symbol share (provider, symbol).
            merge_key = self._key(event.provider, event.merge_id or "", etype)
            if queue.push(merge_key, event, True):
                self.stats.coalesced += 1
                if not self._coalescing:
                    self._coalescing_started(event, "latest_wins")
        else:
            queue.push(0, event, False)
        self._wake()

    def _coalescing_started(self, event: Event, policy: str) -> None:
        """The first coalescing of a backlog episode: one ``dispatch.coalesced`` ops event."""
        self._coalescing = True
        self._dispatcher.telemetry.ops.emit(
            "dispatch.coalesced",
            trace_id=event.trace_id,
            decision_id=new_decision_id(),
            venue=event.provider,
            symbol=event.symbol,
            consumer=self.name,
            policy=policy,
            event_type=event.event_type,
            queued=len(self),
        )

    def _spill(self, event: Event) -> None:
        from tradegw.schema import to_json

        self.stats.spilled += 1
        telemetry = self._dispatcher.telemetry
        telemetry.counters.inc("consumer_spilled", self.name)
        if not self._spilling:
            # Every spilled trade is in the DLQ with its trace id; the decision to spill is
            # said once per episode.
            self._spilling = True
            telemetry.ops.emit(
                "dispatch.spilled",
                trace_id=event.trace_id,
                decision_id=new_decision_id(),
                venue=event.provider,
                symbol=event.symbol,
                consumer=self.name,
                queued=len(self),
            )
        telemetry.dlq.put(
            venue=event.provider,
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
        return len(self._queue) + len(self._ready) + len(self._exec)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        # The slice is counted per take, not per event: the path of an event already taken
        # stays two lines long.
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._exec or len(self._queue):
                clock = self._clock
                if clock.left <= 0 and clock.spent():
                    # Slice used up with events waiting: one loop turn for everyone else.
                    await asyncio.sleep(0)
                    clock.begin()
                    continue
                moved = self._take(clock.left)
                if moved:
                    clock.left -= moved
                else:
                    await self._wait_for_budget()
                continue
            if self._closed:
                raise StopAsyncIteration
            await self._wait()

    def batches(self, max_events: int = 512) -> AsyncIterator[list[Event]]:
        """The same events as ``async for event in sub``, in the same order, as lists of up
        to ``max_events``: everything queued when the consumer wakes comes in one list (up
        to its time slice and budget), so a burst costs the consumer one wake-up and one
        loop turn instead of one per event.

        >>> async for batch in sub.batches():
        ...     for event in batch:
        ...         ...
        """
        if max_events <= 0:
            raise ValueError(f"max_events must be positive, got {max_events}")
        return self._batches(max_events)

    async def _batches(self, max_events: int) -> AsyncIterator[list[Event]]:
        ready = self._ready
        clock = self._clock
        while True:
            if not ready and (self._exec or len(self._queue)):
                if clock.left <= 0 and clock.spent():
                    await asyncio.sleep(0)
                    clock.begin()
                    continue
                # Until a batch has been timed its cost is unknown: the first one is whatever
                # is queued (a burst in one wake-up), the later ones about a slice. The slice
                # has time left here, so at least one event: its count may be far below 0
                # (every queued ExecReport goes with each take, past the count).
                limit = max(1, min(max_events, clock.left)) if clock.cost_ns else max_events
                moved = 0
                while len(ready) < limit and (self._exec or len(self._queue)):
                    moved = self._take(limit - len(ready))
                    if not moved:
                        break
                    clock.left -= moved
                if not ready:
                    if not moved:  # nothing could be taken: out of budget
                        await self._wait_for_budget()
                    # Else what was taken gave no event (a backlog marker of a book that is
                    # resyncing now): look at the queue again, or wait for the next event.
                    continue
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
            await self._wait()

    async def _wait(self) -> None:
        """Sleeps until :meth:`offer` or :meth:`close` wakes the consumer."""
        # Nothing queued any more: a backlog episode, if there was one, is over.
        self._coalescing = self._spilling = False
        self._clock.end()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        self._clock.begin()

    async def _wait_for_budget(self) -> None:
        """Sleeps until the budget has a token; meanwhile the queue coalesces."""
        assert self._bucket is not None
        self._clock.end()
        self.stats.throttled += 1
        started = time.monotonic_ns()
        await asyncio.sleep(self._bucket.time_until(1.0))
        self.stats.throttled_ns += time.monotonic_ns() - started
        self._clock.begin()

    def get_nowait(self) -> Event | None:
        """The next event if one is queued (and the budget allows it), else None (for
        polling consumers, who schedule themselves)."""
        if not self._ready:
            self._take(_BATCH)
        return self._ready.popleft() if self._ready else None

    def _take(self, limit: int) -> int:
        """Moves queued events to the ready list: every ExecReport, then up to ``limit``
        (at least one, at most a batch) of the rest within the budget. Returns how many
        were taken from the queues: 0 when nothing could be (out of budget, or nothing
        queued)."""
        n = _BATCH if limit >= _BATCH else max(1, limit)
        bucket = self._bucket
        if bucket is not None:
            n = min(n, int(bucket.tokens()))
        items: list[object] = self._queue.pop(n) if n > 0 else []
        if bucket is not None and items:
            bucket.try_acquire(float(len(items)))
        if self._exec:
            items[:0] = self._exec
            self._exec.clear()
        now = time.time_ns()
        stats = self.stats
        for item in items:
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
        return len(items)

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
