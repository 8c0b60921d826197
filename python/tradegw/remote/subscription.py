"""A remote consumer's subscription: the in-process :class:`~tradegw.consumers.Subscription`
(same queue, same degradation, same ``async for`` and ``batches()``) plus the
acknowledgement of the ExecReports it hands out once they are handled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from tradegw.schema import Event, ExecReport

if TYPE_CHECKING:
    from tradegw.consumers.subscription import Subscription, SubscriptionStats
    from tradegw.remote.exec import ExecFeed


class RemoteSubscription:
    """Iterate it like an in-process subscription: ``async for event in sub`` or ``async for
    batch in sub.batches()``. ExecReports (from a durable consumer, when ``durable=`` was
    given) count as handled — recorded and acknowledged, never delivered again — when the
    next event (or batch) is asked for; leaving the loop does not handle the last one.
    """

    def __init__(self, sub: Subscription, ready: asyncio.Future[None]) -> None:
        self._sub = sub
        self.feed: ExecFeed | None = None
        """The ExecReport feed, when the subscription has a durable consumer."""
        self._ready = ready
        self._handed: list[ExecReport] = []

    async def ready(self) -> None:
        """Waits until the subscription is in place at the NATS server (its durable
        consumer made, its subjects subscribed); iterating waits for this too.

        Raises:
            ValueError: the durable consumer exists with settings this one cannot take.
        """
        await asyncio.shield(self._ready)

    @property
    def name(self) -> str:
        """The consumer's name."""
        return self._sub.name

    @property
    def stats(self) -> SubscriptionStats:
        """The local queue's figures (offered, delivered, coalesced, ...)."""
        return self._sub.stats

    @property
    def subscription(self) -> Subscription:
        """The local queue itself."""
        return self._sub

    def __len__(self) -> int:
        return len(self._sub)

    def _settle(self) -> None:
        # Synchronous, before anything awaits: a consumer cancelled or killed while waiting
        # for the next event has its previous reports recorded as handled already.
        if self._handed:
            assert self.feed is not None
            for report in self._handed:
                self.feed.handled(report)
            self._handed.clear()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        self._settle()
        if not self._ready.done():
            await self.ready()
        self._ready.result()
        event = await self._sub.__anext__()
        if self.feed is not None and isinstance(event, ExecReport):
            self._handed.append(event)
        return event

    def batches(self, max_events: int = 512) -> AsyncIterator[list[Event]]:
        """The same events as lists (see :meth:`Subscription.batches`); the ExecReports of a
        batch are handled when the next batch is asked for."""
        inner = self._sub.batches(max_events)
        return self._batches(inner)

    async def _batches(self, inner: AsyncIterator[list[Event]]) -> AsyncIterator[list[Event]]:
        await self.ready()
        while True:
            self._settle()
            try:
                batch = await inner.__anext__()
            except StopAsyncIteration:
                return
            if self.feed is not None:
                self._handed.extend(e for e in batch if isinstance(e, ExecReport))
            yield batch

    def close(self) -> None:
        """Ends the subscription (what is queued is still delivered)."""
        self._sub.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._sub.closed
