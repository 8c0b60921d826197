"""The three demo consumers of ``tradegw run``: book builder, trade tape and quote board."""

from __future__ import annotations

from tests.unit._factories import (
    book_snapshot,
    book_status,
    book_update,
    exec_report,
    kline,
    ticker,
    trade,
)
from tradegw.consumers.demo import BookConsumer, QuoteConsumer, TapeConsumer


def test_book_consumer_builds_books_from_snapshots_and_updates() -> None:
    c = BookConsumer()
    c.on_event(book_update("BTC-USD", bids=[("1.0", "1")]))  # no book yet: ignored
    assert c.books == {}
    assert c.updates == {}
    c.on_event(
        book_snapshot(
            "BTC-USD",
            bids=[("100.0", "1"), ("99.5", "2")],
            asks=[("101.0", "3")],
            price_precision=1,
            qty_precision=2,
        )
    )
    assert c.status == {("kraken", "BTC-USD"): "synced"}
    c.on_event(book_update("BTC-USD", bids=[("100.0", "0"), ("99.8", "0.5")]))
    c.on_event(book_update("BTC-USD", asks=[("100.9", "1.25")]))
    c.on_event(trade("BTC-USD"))  # not a book event: ignored
    book = c.books[("kraken", "BTC-USD")]
    assert book.top(10) == (
        [("99.8", "0.50"), ("99.5", "2.00")],
        [("100.9", "1.25"), ("101.0", "3.00")],
    )
    assert c.updates == {("kraken", "BTC-USD"): 2}
    # A new snapshot replaces the book's content, same object.
    c.on_event(book_snapshot("BTC-USD", bids=[("90.0", "1")], asks=[("91.0", "1")]))
    assert c.books[("kraken", "BTC-USD")] is book
    assert book.top(10) == ([("90.0", "1.00")], [("91.0", "1.00")])


def test_book_consumer_status() -> None:
    c = BookConsumer()
    c.on_event(book_status("ETH-USD", state="resyncing", reason="checksum"))
    assert c.status[("kraken", "ETH-USD")] == "checksum"
    c.on_event(book_status("ETH-USD", state="synced"))
    assert c.status[("kraken", "ETH-USD")] == "synced"


def test_book_consumer_respects_depth() -> None:
    c = BookConsumer()
    c.on_event(
        book_snapshot("SOL-USD", bids=[("10.0", "1"), ("9.0", "1")], asks=[("11.0", "1")], depth=2)
    )
    c.on_event(book_update("SOL-USD", bids=[("9.5", "1")]))
    book = c.books[("kraken", "SOL-USD")]
    assert book.depth == 2
    assert book.top(10)[0] == [("10.0", "1.00"), ("9.5", "1.00")]


def test_book_consumer_rebuilds_on_a_new_price_precision() -> None:
    c = BookConsumer()
    c.on_event(book_snapshot("BTC-USD", bids=[("100.0", "1")], asks=[("101.0", "1")]))
    first = c.books[("kraken", "BTC-USD")]
    c.on_event(
        book_snapshot("BTC-USD", bids=[("100.05", "1")], asks=[("101.05", "1")], price_precision=2)
    )
    assert c.books[("kraken", "BTC-USD")] is not first
    assert c.books[("kraken", "BTC-USD")].best_bid() == ("100.05", "1.00")


def test_book_consumer_follows_a_new_qty_precision() -> None:
    """A snapshot at a new quantity precision (the venue changed the pair's lot decimals)
    must give the consumer a book at that precision, as a new price precision does."""
    c = BookConsumer()
    c.on_event(book_snapshot("BTC-USD", bids=[("100.0", "1")], asks=[("101.0", "1")]))
    c.on_event(
        book_snapshot(
            "BTC-USD",
            bids=[("100.0", "0.12345678")],
            asks=[("101.0", "1")],
            qty_precision=8,
        )
    )
    assert c.books[("kraken", "BTC-USD")].best_bid() == ("100.0", "0.12345678")


def test_tape_consumer() -> None:
    c = TapeConsumer()
    c.on_event(trade("BTC-USD", price="1.0", trade_id="1"))
    c.on_event(trade("BTC-USD", price="2.0", trade_id="2"))
    last_eth = trade("ETH-USD", price="3.0", trade_id="3")
    c.on_event(last_eth)
    c.on_event(ticker("BTC-USD"))
    c.on_event(exec_report())
    assert c.trades == {("kraken", "BTC-USD"): 2, ("kraken", "ETH-USD"): 1}
    assert c.last[("kraken", "BTC-USD")].trade_id == "2"
    assert c.last[("kraken", "ETH-USD")] is last_eth


def test_quote_consumer() -> None:
    c = QuoteConsumer()
    c.on_event(ticker("BTC-USD", bid="1.0"))
    latest = ticker("BTC-USD", bid="2.0")
    c.on_event(latest)
    candle = kline("BTC-USD", close="5.0")
    c.on_event(kline("BTC-USD", close="4.0"))
    c.on_event(candle)
    c.on_event(trade("BTC-USD"))
    c.on_event(book_update("BTC-USD"))
    assert c.tickers == {("kraken", "BTC-USD"): latest}
    assert c.candles == {("kraken", "BTC-USD"): candle}


def test_book_consumer_keeps_two_venues_quoting_one_symbol_apart() -> None:
    c = BookConsumer()
    c.on_event(book_snapshot("BTC-USD", bids=[("100.0", "1")], asks=[("101.0", "1")]))
    c.on_event(
        book_snapshot("BTC-USD", bids=[("99.5", "2")], asks=[("100.5", "2")], provider="coinbase")
    )
    c.on_event(book_update("BTC-USD", bids=[("100.2", "3")], provider="coinbase"))
    assert c.books[("kraken", "BTC-USD")].best_bid() == ("100.0", "1.00")
    assert c.books[("coinbase", "BTC-USD")].best_bid() == ("100.2", "3.00")
    assert c.updates == {("coinbase", "BTC-USD"): 1}
