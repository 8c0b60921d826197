"""Builders of canonical events and small real collaborators shared by the unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradegw._core import OrderBook
from tradegw.config import DispatcherConfig
from tradegw.dispatch import Dispatcher
from tradegw.schema import (
    BookSnapshot,
    BookState,
    BookStatus,
    BookUpdate,
    Event,
    ExecReport,
    ExecState,
    KlineSummary,
    Level,
    MergedBBO,
    MergedBookSnapshot,
    ResyncReason,
    Ticker,
    Trade,
    new_trace_id,
)
from tradegw.telemetry import Telemetry

PROVIDER = "kraken"


def _common(symbol: str, seq: int | None, provider: str) -> dict[str, Any]:
    return {
        "provider": provider,
        "symbol": symbol,
        "venue_symbol": symbol.replace("-", "/"),
        "seq_provider": seq,
        "exchange_ts": None,
        "ingest_ts": time.time_ns(),
        "trace_id": new_trace_id(),
    }


def book_update(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    bids: list[Level] | None = None,
    asks: list[Level] | None = None,
    provider: str = PROVIDER,
) -> BookUpdate:
    """A BookUpdate with the given changed levels."""
    return BookUpdate(**_common(symbol, seq, provider), bids=bids or [], asks=asks or [])


def book_snapshot(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    bids: list[Level] | None = None,
    asks: list[Level] | None = None,
    provider: str = PROVIDER,
    price_precision: int | None = 1,
    qty_precision: int | None = 2,
    depth: int | None = None,
) -> BookSnapshot:
    """A BookSnapshot with the given levels."""
    return BookSnapshot(
        **_common(symbol, seq, provider),
        bids=bids or [],
        asks=asks or [],
        price_precision=price_precision,
        qty_precision=qty_precision,
        depth=depth,
    )


def snapshot_of(
    book: OrderBook, symbol: str = "BTC-USD", *, provider: str = PROVIDER
) -> BookSnapshot:
    """The whole of ``book`` as a BookSnapshot (what a provider's book source returns)."""
    bids, asks = book.top(1_000_000)
    return book_snapshot(
        symbol,
        bids=bids,
        asks=asks,
        provider=provider,
        price_precision=book.price_precision,
        qty_precision=book.qty_precision,
        depth=book.depth,
    )


def book_status(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    state: BookState = "synced",
    reason: ResyncReason | None = None,
    provider: str = PROVIDER,
) -> BookStatus:
    """A BookStatus."""
    return BookStatus(**_common(symbol, seq, provider), state=state, reason=reason)


def trade(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    price: str = "100.0",
    trade_id: str = "1",
    provider: str = PROVIDER,
) -> Trade:
    """A Trade."""
    return Trade(
        **_common(symbol, seq, provider), price=price, qty="0.5", side="buy", trade_id=trade_id
    )


def ticker(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    bid: str = "100.0",
    ask: str = "100.5",
    provider: str = PROVIDER,
) -> Ticker:
    """A Ticker."""
    return Ticker(
        **_common(symbol, seq, provider), bid=bid, bid_qty="1", ask=ask, ask_qty="2", last=bid
    )


def kline(
    symbol: str = "BTC-USD",
    seq: int | None = None,
    *,
    close: str = "100.0",
    provider: str = PROVIDER,
) -> KlineSummary:
    """A one-minute candle."""
    return KlineSummary(
        **_common(symbol, seq, provider),
        interval_s=60,
        open_ts=1_700_000_000_000_000_000,
        open="99.0",
        high="101.0",
        low="98.0",
        close=close,
        volume="3.5",
        closed=False,
    )


def exec_report(
    client_order_id: str = "c-1",
    seq: int | None = None,
    *,
    symbol: str = "BTC-USD",
    state: ExecState = ExecState.ACK,
    provider: str = PROVIDER,
) -> ExecReport:
    """An ExecReport."""
    return ExecReport(
        **_common(symbol, seq, provider),
        client_order_id=client_order_id,
        state=state,
        side="buy",
        order_type="limit",
        price="100.0",
        qty="1",
        filled_qty="0",
    )


def merged_snapshot(
    merge_id: str = "m1", window_seq: int = 1, *, symbol: str = "BTC-USD"
) -> MergedBookSnapshot:
    """A MergedBookSnapshot of window ``window_seq`` of merge ``merge_id`` (no levels)."""
    return MergedBookSnapshot(
        **_common(symbol, None, "merged"),
        merge_id=merge_id,
        bids=[],
        asks=[],
        depth=10,
        venues=["coinbase", "kraken"],
        fragments={"coinbase": 1, "kraken": 1},
        window_seq=window_seq,
        window_open_ts=time.time_ns(),
        window_close_ts=time.time_ns(),
        close_reason="time",
        crossed=False,
    )


def merged_bbo(merge_id: str = "m1", window_seq: int = 1, *, symbol: str = "BTC-USD") -> MergedBBO:
    """A MergedBBO of window ``window_seq`` of merge ``merge_id``."""
    return MergedBBO(
        **_common(symbol, None, "merged"),
        merge_id=merge_id,
        bid="100.0",
        bid_qty="1",
        bid_venues={"kraken": "1"},
        ask="100.5",
        ask_qty="2",
        ask_venues={"coinbase": "2"},
        crossed=False,
        window_seq=window_seq,
    )


def make_dispatcher(
    *, lateness_ms: int = 150, flush_ms: int = 50, max_events: int = 200
) -> Dispatcher:
    """A dispatcher with in-memory telemetry."""
    config = DispatcherConfig(lateness_ms=lateness_ms, flush_ms=flush_ms, max_events=max_events)
    return Dispatcher(config, Telemetry())


class ReferenceBooks:
    """The "provider side" of book tests: reference books that apply every update, and a
    book source rendering them as snapshots (like the Kraken provider's)."""

    def __init__(self, price_precision: int = 1, qty_precision: int = 2) -> None:
        self.price_precision = price_precision
        self.qty_precision = qty_precision
        self.books: dict[str, OrderBook] = {}
        self.synced: dict[str, bool] = {}
        self.source_calls = 0

    def book(self, symbol: str) -> OrderBook:
        """The reference book of ``symbol`` (created empty and synced on first use)."""
        if symbol not in self.books:
            self.books[symbol] = OrderBook(self.price_precision, self.qty_precision)
            self.synced[symbol] = True
        return self.books[symbol]

    def source(self, provider: str, symbol: str) -> BookSnapshot | None:
        """A :data:`tradegw.dispatch.BookSource`."""
        self.source_calls += 1
        if provider != PROVIDER or symbol not in self.books or not self.synced[symbol]:
            return None
        return snapshot_of(self.books[symbol], symbol)


class ConsumerBooks:
    """What a consumer builds from the book events it receives."""

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}

    def apply(self, event: object) -> None:
        """Applies one received event (other event types are ignored)."""
        if isinstance(event, BookSnapshot):
            book = OrderBook(event.price_precision or 0, event.qty_precision or 0, event.depth)
            book.apply_snapshot(event.bids, event.asks)
            self.books[event.symbol] = book
        elif isinstance(event, BookUpdate):
            self.books[event.symbol].apply(event.bids, event.asks)

    def top(self, symbol: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Every level of the consumer's copy of ``symbol``."""
        return self.books[symbol].top(1_000_000)


def recording_dispatcher() -> tuple[Dispatcher, list[Event]]:
    """A dispatcher with in-memory telemetry and the list of every event it delivers to one
    catch-all subscription (in delivery order), for feeding a provider frames directly."""
    dispatcher = make_dispatcher()
    sub = dispatcher.subscribe(name="all")
    received: list[Event] = []
    offer = sub.offer

    def record(event: Event) -> None:
        received.append(event)
        offer(event)

    sub.offer = record  # type: ignore[method-assign]
    return dispatcher, received


class ManualTimer:
    """A timer of :class:`ManualClock`."""

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Calls the timer off."""
        self.cancelled = True


class ManualClock:
    """A merge clock moved by hand: :meth:`advance` runs the timers that come due, each at
    its deadline (or, with ``late``, all at the end of the advance, as a busy loop would)."""

    def __init__(
        self,
        start: float = 1_000.0,
        wall_start_ns: int = 1_767_225_600 * 10**9,
        *,
        early_s: float = 0.0,
    ) -> None:
        self.early_s = early_s
        """How much earlier than asked every timer fires (a loop rounding its timers)."""
        self.now = start
        self._start = start
        self._wall_start_ns = wall_start_ns
        self.timers: list[ManualTimer] = []

    def time(self) -> float:
        """Monotonic seconds."""
        return self.now

    def wall_ns(self) -> int:
        """Wall-clock ns, moving with :attr:`now`."""
        return self._wall_start_ns + round((self.now - self._start) * 1e9)

    def call_at(self, when: float, callback: Callable[[], None]) -> ManualTimer:
        """Schedules ``callback`` at ``when``."""
        timer = ManualTimer(when - self.early_s, callback)
        self.timers.append(timer)
        return timer

    def pending(self) -> int:
        """Timers scheduled and neither run nor cancelled."""
        return sum(not t.cancelled for t in self.timers)

    def advance(self, seconds: float, *, late: bool = False) -> None:
        """Moves time on by ``seconds``, running each timer that comes due."""
        target = self.now + seconds
        if late:
            self.now = target
        while True:
            due = [t for t in self.timers if not t.cancelled and t.when <= target]
            if not due:
                break
            timer = min(due, key=lambda t: t.when)
            self.timers.remove(timer)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = target
