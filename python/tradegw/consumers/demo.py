"""The three demo consumers ``tradegw run`` starts: a book builder, a trade tape and a quote
board. They are also the reference for writing a consumer.

Everything is keyed by ``(venue, symbol)``: Kraken's BTC-USD and Coinbase's BTC-USD are two
books."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

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

BookKey: TypeAlias = tuple[str, str]
"""``(venue, canonical symbol)``."""


@dataclass
class BookConsumer:
    """Keeps its own copy of every book from BookSnapshot + BookUpdate events."""

    books: dict[BookKey, OrderBook] = field(default_factory=dict)
    status: dict[BookKey, str] = field(default_factory=dict)
    updates: dict[BookKey, int] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Applies one event."""
        key = (event.provider, event.symbol)
        if isinstance(event, BookSnapshot):
            book = self.books.get(key)
            if (
                book is None
                or book.price_precision != event.price_precision
                or book.qty_precision != event.qty_precision
                or book.depth != event.depth
            ):
                book = OrderBook(event.price_precision or 0, event.qty_precision or 0, event.depth)
                self.books[key] = book
            book.apply_snapshot(event.bids, event.asks)
            self.status[key] = "synced"
        elif isinstance(event, BookUpdate):
            book = self.books.get(key)
            if book is not None:
                book.apply(event.bids, event.asks)
                self.updates[key] = self.updates.get(key, 0) + 1
        elif isinstance(event, BookStatus):
            self.status[key] = event.state if event.reason is None else event.reason


@dataclass
class TapeConsumer:
    """Counts trades and remembers the last one per symbol."""

    trades: dict[BookKey, int] = field(default_factory=dict)
    last: dict[BookKey, Trade] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Records one trade."""
        if isinstance(event, Trade):
            key = (event.provider, event.symbol)
            self.trades[key] = self.trades.get(key, 0) + 1
            self.last[key] = event


@dataclass
class QuoteConsumer:
    """Latest ticker and candle per symbol."""

    tickers: dict[BookKey, Ticker] = field(default_factory=dict)
    candles: dict[BookKey, KlineSummary] = field(default_factory=dict)

    def on_event(self, event: Event) -> None:
        """Keeps the latest quote or candle."""
        if isinstance(event, Ticker):
            self.tickers[(event.provider, event.symbol)] = event
        elif isinstance(event, KlineSummary):
            self.candles[(event.provider, event.symbol)] = event
