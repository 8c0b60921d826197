"""The gateway of now, over several lives: one is killed (as a crash would end it for its
orders: nothing more is written), the next is started on the same ledger, and callers move
to it. Every ExecReport any of them published is kept, in the order each was delivered.

>>> lives = GatewayLives(lambda: Gateway(config, urls=urls, rest_urls=rest_urls))
>>> await lives.start()
>>> await lives.restart()  # kill the gateway of now, start a new one on the same ledger
>>> await lives.close()
>>> lives.reports  # every ExecReport of both
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tradegw.consumers.subscription import Subscription
from tradegw.gateway import Gateway
from tradegw.orders.stats import OrderEntryStats
from tradegw.schema import ExecReport

log = logging.getLogger("tradegw.verify")

REPORTS_MAX_PENDING = 1_000_000
"""The report collector's queue bound: ExecReports are never coalesced or dropped anyway;
this only keeps its market data (none: it takes ExecReports alone) from mattering."""
DRAIN_S = 5.0
"""How long a stopped gateway's collector may take to hand over what was queued for it."""


class GatewayLives:
    """Gateways made by ``make`` one after the other; :attr:`gw` is the one callers use now
    (None while one is killed and the next not started yet). ``ready``, when given, is
    awaited after each start before the gateway becomes the one of now (a venue's private
    stream connected, say)."""

    def __init__(
        self,
        make: Callable[[], Gateway],
        ready: Callable[[Gateway], Awaitable[object]] | None = None,
    ) -> None:
        self._make = make
        self._ready = ready
        self.gw: Gateway | None = None
        """The gateway of now."""
        self.reports: list[ExecReport] = []
        """Every ExecReport every gateway published, each gateway's in delivery order."""
        self.entry_stats: list[OrderEntryStats] = []
        """The order entry's counters of each gateway started, oldest first."""
        self._collectors: list[asyncio.Task[None]] = []

    def new(self) -> Gateway:
        """A new gateway (not started, not yet :attr:`gw`) whose ExecReports are collected
        from its first; subscribe what else must see everything before :meth:`start`."""
        gw = self._make()
        sub = gw.subscribe(types=["ExecReport"], max_pending=REPORTS_MAX_PENDING)
        task = asyncio.get_running_loop().create_task(self._collect(sub), name="exec-reports")
        self._collectors.append(task)
        return gw

    async def _collect(self, sub: Subscription) -> None:
        async for event in sub:
            if isinstance(event, ExecReport):
                self.reports.append(event)

    async def start(self, gw: Gateway | None = None) -> Gateway:
        """Starts ``gw`` (one :meth:`new` made; None: a new one) and makes it the gateway
        of now."""
        gw = gw or self.new()
        await gw.start()
        self.entry_stats.append(gw.order_entry.stats)
        if self._ready is not None:
            await self._ready(gw)
        self.gw = gw
        return gw

    async def kill(self) -> Gateway:
        """Stops the gateway of now mid-flight: callers see None from here on, and its order
        entry writes nothing more (an order left SENT or UNKNOWN is the next one's to
        reconcile, as after a crash). Returns the stopped gateway.

        Raises:
            RuntimeError: no gateway runs.
        """
        gw, self.gw = self.gw, None
        if gw is None:
            raise RuntimeError("no gateway runs")
        await gw.stop()
        return gw

    async def restart(self) -> Gateway:
        """Kills the gateway of now and starts a new one (on the same ledger file, as the
        config says)."""
        await self.kill()
        return await self.start()

    async def close(self) -> None:
        """Stops the gateway of now, if any, and waits for every collector to hand over
        what was queued (a stopped gateway ends its subscriptions once drained)."""
        if self.gw is not None:
            await self.kill()
        for task in self._collectors:
            try:
                await asyncio.wait_for(task, DRAIN_S)
            except TimeoutError:
                log.warning("an ExecReport collector did not finish within %.0f s", DRAIN_S)
            except Exception:
                log.debug("an ExecReport collector failed", exc_info=True)
        self._collectors.clear()

    def abandon(self) -> None:
        """Cancels the collectors still running (a close cut short): nothing more is
        collected."""
        for task in self._collectors:
            task.cancel()
        self._collectors.clear()

    def total(self, counter: str) -> int:
        """One order entry counter (``unknown``, ``resends`` ...) summed over every life."""
        return sum(int(getattr(stats, counter)) for stats in self.entry_stats)
