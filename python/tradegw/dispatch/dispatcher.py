"""Ordering and fan-out of canonical events."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from tradegw._core import ReorderBuffer
from tradegw.dispatch.routing import RoutingTable

if TYPE_CHECKING:
    from tradegw.config import DispatcherConfig
    from tradegw.consumers.subscription import Subscription
    from tradegw.schema import BookSnapshot, Event
    from tradegw.telemetry import Telemetry

BookSource = Callable[[str, str], "BookSnapshot | None"]
"""``(provider, symbol) -> BookSnapshot`` of the currently assembled book, or None while that
book is not synced. Used to hand a slow consumer one fresh snapshot instead of its backlog."""


class Dispatcher:
    """Orders each (provider, symbol, event type) stream and fans events out to consumers.

    Providers call :meth:`publish` synchronously from their frame handler: no queue sits
    between a provider and the dispatcher, so an in-order event reaches the consumers' queues
    in the same call. Events whose ``seq_provider`` is set are ordered by it (it must count
    1, 2, 3, ... per stream); others get an ingest sequence here, which never holds anything.
    """

    def __init__(self, config: DispatcherConfig, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.routing = RoutingTable()
        self._reorder = ReorderBuffer(config.lateness_ms, config.flush_ms, config.max_events)
        self._slice_ns = round(config.consumer_slice_ms * 1_000_000)
        self._streams: dict[tuple[str, str, str], int] = {}
        self._ingest_seq: dict[int, int] = {}
        self._book_sources: dict[str, BookSource] = {}
        self._expiry_task: asyncio.Task[None] | None = None
        # Every subscription made here, routed or not, so stop() can end them all.
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self.published = 0
        self.delivered = 0

    # ---- providers' side ----

    def register_book_source(self, provider: str, source: BookSource) -> None:
        """Lets the dispatcher ask ``provider`` for a fresh snapshot of one of its books."""
        self._book_sources[provider] = source

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        """The provider's current book as a snapshot event, or None if it is not synced."""
        source = self._book_sources.get(provider)
        return source(provider, symbol) if source is not None else None

    def stream_id(self, provider: str, symbol: str, event_type: str) -> int:
        """The dense integer id of a stream (allocated on first use)."""
        key = (provider, symbol, event_type)
        sid = self._streams.get(key)
        if sid is None:
            sid = self._streams[key] = len(self._streams)
        return sid

    def publish(self, event: Event) -> None:
        """Orders ``event`` within its stream and hands whatever is now releasable to the
        subscriptions that want it."""
        self.published += 1
        sid = self.stream_id(event.provider, event.symbol, event.event_type)
        seq = event.seq_provider
        if seq is None:
            seq = self._ingest_seq.get(sid, 0) + 1
            self._ingest_seq[sid] = seq
        for ev in self._reorder.push(sid, seq, event):
            self._deliver(ev)  # type: ignore[arg-type]

    def reset_stream(self, provider: str, symbol: str, event_type: str) -> None:
        """Forgets a stream's numbering (a provider restarted it, e.g. after a reconnect)."""
        sid = self.stream_id(provider, symbol, event_type)
        self._reorder.reset(sid)
        self._ingest_seq.pop(sid, None)

    def _deliver(self, event: Event) -> None:
        routing = self.routing
        event.routing_version = routing.version
        for sub in routing.route(event.provider, event.symbol, event.event_type):
            sub.offer(event)
            self.delivered += 1

    def expire(self, now_ns: int | None = None) -> int:
        """Releases what waited past the lateness bound; returns how many were released."""
        released = self._reorder.expire(now_ns)
        for ev in released:
            self._deliver(ev)  # type: ignore[arg-type]
        return len(released)

    def reorder_stats(self) -> dict[str, int]:
        """The reorder buffer's counters."""
        return self._reorder.stats()

    # ---- consumers' side ----

    def subscribe(
        self,
        *,
        venues: Collection[str] | None = None,
        symbols: Collection[str] | None = None,
        types: Collection[str] | None = None,
        name: str = "",
        max_pending: int = 10_000,
        budget: tuple[float, float] | None = None,
    ) -> Subscription:
        """A new subscription, routed from the next event on; ``budget`` is ``(events per
        second, burst)`` or None for none (see :class:`Subscription`)."""
        from tradegw.consumers.subscription import Subscription

        sub = Subscription(
            self,
            venues=venues,
            symbols=symbols,
            types=types,
            name=name,
            max_pending=max_pending,
            budget=budget,
            slice_ns=self._slice_ns,
        )
        self.routing.add(sub)
        self._subscriptions.add(sub)
        return sub

    def subscriptions(self) -> list[Subscription]:
        """Every subscription made here that is still referenced, routed or not (for the
        metrics)."""
        return list(self._subscriptions)

    def unsubscribe(self, sub: Subscription) -> None:
        """Stops routing to ``sub``; it still drains what it holds."""
        self.routing.remove(sub)

    # ---- lifecycle ----

    def start(self) -> None:
        """Starts the periodic expiry of held events (every ``flush_ms``)."""
        if self._expiry_task is None:
            self._expiry_task = asyncio.get_running_loop().create_task(
                self._run_expiry(), name="dispatcher-expiry"
            )

    async def _run_expiry(self) -> None:
        period = self._reorder.flush_ms / 1000
        while True:
            await asyncio.sleep(period)
            self.expire()

    async def stop(self) -> None:
        """Stops the expiry task and closes every subscription (consumers see the end)."""
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
            self._expiry_task = None
        self.expire(now_ns=2**63)
        for sub in list(self._subscriptions):
            sub.close()
