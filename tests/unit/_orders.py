"""What the order entry's tests share: an entry on a ledger with a fake venue, the
ExecReports it published, a trading switch to flip."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from tradegw.config.models import OrdersConfig, TradingMode
from tradegw.orders.entry import OrderEntry, OrderHandle
from tradegw.orders.fake import FakeFaults, FakeOrderVenue
from tradegw.orders.ledger import OrderLedger
from tradegw.orders.requests import OrderRequest
from tradegw.schema import Event, ExecReport
from tradegw.sim.wire import fixed

FAST = OrdersConfig(
    request_timeout_s=0.2,
    reconcile_backoff_s=0.002,
    reconcile_backoff_max_s=0.02,
    max_send_attempts=3,
)


class Rig:
    """One entry, its ledger (memory, or ``path``), a fake venue and the reports."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        venue: FakeOrderVenue | None = None,
        faults: FakeFaults | None = None,
        config: OrdersConfig = FAST,
    ) -> None:
        self.mode: TradingMode = "enabled"
        self.events: list[Event] = []
        self.path = path
        self.config = config
        self.venue = venue or FakeOrderVenue(faults=faults)
        self.ledger = OrderLedger(path)
        self.entry = self._entry()

    def _entry(self) -> OrderEntry:
        entry = OrderEntry(
            self.ledger, self.events.append, trading_mode=lambda: self.mode, config=self.config
        )
        entry.add_venue(self.venue)
        return entry

    async def start(self) -> Rig:
        await self.entry.start()
        return self

    async def restart(self) -> None:
        """Stops the entry as a crash would (nothing more written), then a new entry on a
        new connection to the same ledger file and the same venue starts."""
        await self.entry.stop()
        self.ledger.close()
        self.ledger = OrderLedger(self.path)
        self.entry = self._entry()
        await self.entry.start()

    async def stop(self) -> None:
        await self.entry.stop()
        self.ledger.close()

    async def submit(self, **fields: Any) -> OrderHandle:
        return await self.entry.submit(request(**fields))

    def reports(self, cid: str | None = None) -> list[ExecReport]:
        return [
            e
            for e in self.events
            if isinstance(e, ExecReport) and (cid is None or e.client_order_id == cid)
        ]

    def best(self, symbol: str = "BTC-USD") -> tuple[str, str]:
        """``(best bid, best ask)`` of the venue's book as decimal text."""
        return best(self.venue, symbol)


def best(venue: FakeOrderVenue, symbol: str) -> tuple[str, str]:
    """``(best bid, best ask)`` of ``venue``'s book of ``symbol`` as decimal text."""
    (bid, _), (ask, _) = venue.market.best(symbol)
    pp = venue.market.state(symbol).info.price_precision
    return fixed(bid, pp), fixed(ask, pp)


def request(**fields: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "venue": "fake",
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "qty": "0.001",
        "price": "40000.0",
    }
    base.update(fields)
    return OrderRequest.model_validate({k: v for k, v in base.items() if v is not None})


def assert_streams_gapless(reports: list[ExecReport]) -> dict[tuple[str, str], int]:
    """Every (venue, symbol) stream numbered 1, 2, 3 ... in the order published; returns
    the count per stream."""
    seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in reports:
        assert r.seq_provider is not None
        seqs[(r.provider, r.symbol)].append(r.seq_provider)
    for stream, got in seqs.items():
        first = got[0]
        assert got == list(range(first, first + len(got))), f"{stream}: {got[:20]}..."
    return {k: len(v) for k, v in seqs.items()}
