"""The three demo consumers ``tradegw run`` starts: a book builder, a trade tape and a quote
board. They are also the reference for writing a consumer."""

from __future__ import annotations

from dataclasses import dataclass, field

from tradegw._core import OrderBook
from tradegw.schema import (
    BookSnapshot,
    BookStatus,
    BookUpdate,
    Event,
    KlineSummary,
    Ticker,
    Trade,
)


@dataclass
class BookConsumer:
    """Keeps its own copy of every book from BookSnapshot + BookUpdate events."""

    books: dict[str, OrderBook] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Applies one event."""
        if isinstance(event, BookSnapshot):
            book = self.books.get(event.symbol)
            if (
                book is None
                or book.price_precision != event.price_precision
                or book.qty_precision != event.qty_precision
                or book.depth != event.depth
            ):
                book = OrderBook(event.price_precision or 0, event.qty_precision or 0, event.depth)
                self.books[event.symbol] = book
            book.apply_snapshot(event.bids, event.asks)
            self.status[event.symbol] = "synced"
        elif isinstance(event, BookUpdate):
            book = self.books.get(event.symbol)
            if book is not None:
                book.apply(event.bids, event.asks)
                self.updates[event.symbol] = self.updates.get(event.symbol, 0) + 1
        elif isinstance(event, BookStatus):
            self.status[event.symbol] = event.state if event.reason is None else event.reason


@dataclass
class TapeConsumer:
    """Counts trades and remembers the last one per symbol."""

    trades: dict[str, int] = field(default_factory=dict)
    last: dict[str, Trade] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Records one trade."""
        if isinstance(event, Trade):
            self.trades[event.symbol] = self.trades.get(event.symbol, 0) + 1
            self.last[event.symbol] = event


@dataclass
class QuoteConsumer:
    """Latest ticker and candle per symbol."""

    tickers: dict[str, Ticker] = field(default_factory=dict)
    candles: dict[str, KlineSummary] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Keeps the latest quote or candle."""
        if isinstance(event, Ticker):
            self.tickers[event.symbol] = event
        elif isinstance(event, KlineSummary):
            self.candles[event.symbol] = event
