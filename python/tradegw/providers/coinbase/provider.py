"""The Coinbase Advanced Trade adapter: public WebSocket channels → canonical events.

One connection carries every product: ``level2``, ``market_trades``, ``ticker``, ``candles``
and ``heartbeats`` (so that a quiet product does not make the connection look stale), one
subscribe message per channel. Precisions come from REST ``market/products``.

Sequence rule: ``sequence_num`` counts every frame of the connection, across products and
channels (acks and heartbeats included; real captures show it, whatever the overview page
says). It is checked here, where frames arrive: a frame numbered at or below the last one is
a repeat and is dropped; a skipped number means some frame is lost and nobody can tell which
product's book it touched, so every book of the connection resyncs (level2 unsubscribe +
subscribe, fresh snapshots). Once the connection's counter has proved a frame follows the
previous one, each book's own level2 events are numbered 1, 2, 3, ... for the core's
``"coinbase"`` assembler, whose strict +1 check then guards against events lost inside the
adapter. An ``update`` before a product's ``snapshot`` also resyncs it.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson

from tradegw._core import BookAssembler
from tradegw.providers.base import (
    MALFORMED,
    FrameError,
    RestClient,
    RestError,
    SnapshotToken,
    TrackedBook,
    VenueProvider,
    as_int,
    decimal_text,
    decode,
    signed_decimal_text,
    timestamp_ns,
)
from tradegw.providers.coinbase.rest import ProductInfo, fetch_products
from tradegw.schema import KlineSummary, Side, Ticker, Trade

if TYPE_CHECKING:
    from tradegw.providers.coinbase.config import CoinbaseVenueConfig

log = logging.getLogger("tradegw.providers.coinbase")

PROVIDER = "coinbase"

_CANDLE_S = 300
"""Advanced Trade candles are 5-minute buckets."""
_TRADE_MEMORY = 512
_TRADE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
"""Coinbase's trade ids are short decimal strings; anything beyond a short plain token is not
an id we keep in memory or hand to consumers."""
"""Trade ids remembered per product to drop the repeats a re-subscription's snapshot
carries (Coinbase trade ids are strings, not promised to be numeric)."""


class _Tape:
    """The recent trade ids of one product, bounded."""

    __slots__ = ("ids", "order")

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.order: deque[str] = deque()

    def add(self, trade_id: str) -> bool:
        """False when ``trade_id`` was seen already."""
        if trade_id in self.ids:
            return False
        self.ids.add(trade_id)
        self.order.append(trade_id)
        if len(self.order) > _TRADE_MEMORY:
            self.ids.discard(self.order.popleft())
        return True


class CoinbaseProvider(VenueProvider):
    """Coinbase Advanced Trade market data; run it with :meth:`run`."""

    name = PROVIDER
    full_book_diffs = True
    config: CoinbaseVenueConfig

    def __init__(self, config: CoinbaseVenueConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.products: dict[str, ProductInfo] = {}
        self._last_seq: int | None = None
        self._book_seq: dict[str, int] = {}
        self._tapes: dict[str, _Tape] = {}

    # ---- session hooks ----

    async def load_reference_data(self) -> None:
        if not self.rest_url:
            raise RestError("coinbase needs REST for precisions: set venues.coinbase.rest_url")
        rest = RestClient(PROVIDER, self.rest_url, self._counters, self.config.rest, rng=self._rng)
        try:
            self.products = await fetch_products(rest)
        finally:
            await rest.close()
        for product_id in self.config.symbols:
            info = self.products.get(product_id)
            if info is None or info.trading_disabled or info.status not in ("online", ""):
                self._counters.inc("unknown_symbols", PROVIDER)
                log.error("coinbase: %s is not online (%s); not subscribed", product_id, info)
                continue
            self.add_book(product_id, product_id, self._assembler(info))

    @staticmethod
    def _assembler(info: ProductInfo) -> BookAssembler:
        return BookAssembler(PROVIDER, info.price_precision, info.qty_precision)

    def on_connected(self) -> None:
        self._last_seq = None
        # Per-book numbering belongs to the assemblers, which start over here.
        self._book_seq.clear()
        products = [b.symbol for b in self.tracked_books()]
        for book in self.tracked_books():
            book.replace_assembler(self._assembler(self.products[book.symbol]))
            self.expect_snapshot(book)
        # A subscribe must come within 5 s of connecting, or the venue hangs up.
        self._send({"type": "subscribe", "channel": "heartbeats"})
        if products:
            for channel in self.config.channels:
                self._send({"type": "subscribe", "product_ids": products, "channel": channel})

    def request_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        # Coinbase serves level2 snapshots only on subscription.
        msg = {"product_ids": [book.symbol], "channel": "level2"}
        self._send({"type": "unsubscribe", **msg})
        self._send({"type": "subscribe", **msg})

    def _send(self, msg: dict[str, Any]) -> None:
        self.send_text(orjson.dumps(msg))

    # ---- incoming ----

    def handle_frame(self, payload: bytes, ingest_ts: int, trace_id: str) -> None:
        msg = decode(payload)
        if not isinstance(msg, dict):
            raise FrameError("frame is not a JSON object")
        if self.on_decoded is not None:
            self.on_decoded(msg, trace_id)
        channel = msg.get("channel")
        if channel is None:
            if msg.get("type") == "error":
                self._counters.inc("request_errors", PROVIDER)
                log.error("coinbase: error frame: %.200s", msg.get("message"))
                return
            raise FrameError("frame without a channel")
        seq = msg.get("sequence_num")
        if seq is not None and not self._in_sequence(as_int(seq, "sequence_num"), trace_id):
            return
        events = msg.get("events")
        if not isinstance(events, list):
            raise FrameError("frame without an events list")
        # Each product's event, trade, ticker or candle stands alone: a malformed one (or one
        # of a product we never asked for) is its own loss, not its neighbours'.
        if channel == "l2_data":
            exchange_ts = timestamp_ns(msg.get("timestamp"))
            self.each_item(
                events,
                lambda e: self._on_level2(e, exchange_ts, ingest_ts, trace_id, payload),
                payload,
                trace_id,
                "level2 event",
            )
        elif channel == "market_trades":
            for event in events:
                snapshot = isinstance(event, dict) and event.get("type") == "snapshot"
                trades = _list(event, "trades")
                # A product's first snapshot is history from before we started: remembered,
                # not news.
                history = {str(t.get("product_id")) for t in trades if snapshot}
                history -= self._tapes.keys()
                self.each_item(
                    trades,
                    lambda t, h=history: self._on_trade(t, h, ingest_ts, trace_id),  # type: ignore[misc]
                    payload,
                    trace_id,
                    "trade",
                )
        elif channel == "ticker":
            exchange_ts = timestamp_ns(msg.get("timestamp"))
            for event in events:
                self.each_item(
                    _list(event, "tickers"),
                    lambda t: self._on_ticker(t, exchange_ts, ingest_ts, trace_id),
                    payload,
                    trace_id,
                    "ticker",
                )
        elif channel == "candles":
            exchange_ts = timestamp_ns(msg.get("timestamp"))
            for event in events:
                self.each_item(
                    _list(event, "candles"),
                    lambda c: self._on_candle(c, exchange_ts, ingest_ts, trace_id),
                    payload,
                    trace_id,
                    "candle",
                )
        elif channel in ("heartbeats", "subscriptions", "status"):
            pass  # the frame itself showed that the connection is alive
        else:
            raise FrameError(f"unknown channel {channel!r:.40}")

    def _in_sequence(self, seq: int, trace_id: str) -> bool:
        """Checks the connection-wide counter; False for a repeated frame (dropped)."""
        last = self._last_seq
        if last is not None and seq <= last:
            self._counters.inc("duplicate_frames", PROVIDER)
            return False
        self._last_seq = seq
        if last is not None and seq != last + 1:
            # Some frame of this connection is lost, and with it maybe any book's update.
            self._counters.inc("sequence_gaps", PROVIDER)
            log.warning("coinbase: sequence_num %d after %d; resyncing every book", seq, last)
            for book in self.tracked_books():
                if book.status == "resyncing" and book.reason is not None:
                    # Already waiting for a snapshot, and the lost frame may be that very
                    # snapshot: ask again now rather than after resync_timeout_s.
                    self._counters.inc("resync_retries", PROVIDER, book.canonical)
                    self._request_snapshot(book)
                else:
                    self.resync(book, "gap", trace_id)
        return True

    def _on_level2(
        self, event: Any, exchange_ts: int | None, ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        if not isinstance(event, dict):
            raise FrameError("level2 event is not an object")
        book = self.subscribed(event.get("product_id"), "level2")
        kind = event.get("type")
        try:
            if kind not in ("snapshot", "update"):
                raise FrameError(f"level2 event type {kind!r:.20}")
            bids, asks = _levels(event.get("updates"))
            if kind == "snapshot":
                self._book_seq[book.symbol] = 0
                outcome = book.asm.on_snapshot(0, bids, asks)
            else:
                seq = self._book_seq.get(book.symbol)
                if seq is None:
                    # An update before any snapshot: nothing to apply it to.
                    outcome = "needs_snapshot"
                    self.resync(book, "gap", trace_id)
                else:
                    self._book_seq[book.symbol] = seq + 1
                    outcome = book.asm.on_update(seq + 1, bids, asks)
        except MALFORMED as e:
            self.on_book_error(book, raw, trace_id, e)
            return
        self.on_book_outcome(
            book,
            outcome,
            snapshot=kind == "snapshot",
            bids=bids,
            asks=asks,
            checksum=None,
            exchange_ts=exchange_ts,
            ingest_ts=ingest_ts,
            trace_id=trace_id,
        )

    def _on_trade(self, t: Any, history: set[str], ingest_ts: int, trace_id: str) -> None:
        if not isinstance(t, dict):
            raise FrameError("trade is not an object")
        book = self.subscribed(t.get("product_id"), "trade")
        trade_id = t["trade_id"]
        if not isinstance(trade_id, str) or not _TRADE_ID.fullmatch(trade_id):
            raise FrameError(f"trade_id {trade_id!r:.40}")
        # Every field is checked before the id is remembered: a trade we reject must not
        # make its later (valid) repetition look like a duplicate.
        trade = Trade(
            **self.event_fields(
                book.symbol,
                book.canonical,
                "Trade",
                timestamp_ns(t.get("time")),
                ingest_ts,
                trace_id,
                numbered=False,
            ),
            price=decimal_text(t["price"], "price", places=book.price_places, positive=True),
            qty=decimal_text(t["size"], "size", places=book.qty_places, positive=True),
            side=self._aggressor(t["side"]),
            trade_id=trade_id,
        )
        tape = self._tapes.get(book.symbol)
        if tape is None:
            tape = self._tapes[book.symbol] = _Tape()
        if not tape.add(trade_id):
            self._counters.inc("duplicate_trades", PROVIDER)
            return
        if book.symbol in history:
            return
        trade.seq_provider = self.next_seq(book.symbol, "Trade")
        self.publish(trade)

    def _aggressor(self, side: Any) -> Side:
        if side == "BUY":
            return "sell" if self.config.trade_side_is_maker else "buy"
        if side == "SELL":
            return "buy" if self.config.trade_side_is_maker else "sell"
        raise FrameError(f"trade side {side!r:.20}")

    def _on_ticker(
        self, t: dict[str, Any], exchange_ts: int | None, ingest_ts: int, trace_id: str
    ) -> None:
        book = self.subscribed(t.get("product_id"), "ticker")
        pp, qp = book.price_places, book.qty_places
        self.publish(
            Ticker(
                **self.event_fields(
                    book.symbol, book.canonical, "Ticker", exchange_ts, ingest_ts, trace_id
                ),
                bid=decimal_text(t["best_bid"], "best_bid", places=pp, positive=True),
                bid_qty=decimal_text(t["best_bid_quantity"], "best_bid_quantity", places=qp),
                ask=decimal_text(t["best_ask"], "best_ask", places=pp, positive=True),
                ask_qty=decimal_text(t["best_ask_quantity"], "best_ask_quantity", places=qp),
                last=None
                if t.get("price") is None
                else decimal_text(t["price"], "price", places=pp, positive=True),
                volume=_opt(t.get("volume_24_h")),
                low=_opt(t.get("low_24_h")),
                high=_opt(t.get("high_24_h")),
                change_pct=signed_decimal_text(
                    t["price_percent_chg_24_h"], "price_percent_chg_24_h"
                )
                if t.get("price_percent_chg_24_h") is not None
                else None,
            )
        )

    def _on_candle(
        self, c: dict[str, Any], exchange_ts: int | None, ingest_ts: int, trace_id: str
    ) -> None:
        book = self.subscribed(c.get("product_id"), "candle")
        self.publish(
            KlineSummary(
                **self.event_fields(
                    book.symbol, book.canonical, "KlineSummary", exchange_ts, ingest_ts, trace_id
                ),
                interval_s=_CANDLE_S,
                open_ts=as_int(c["start"], "candle start") * 1_000_000_000,
                open=decimal_text(c["open"], "open"),
                high=decimal_text(c["high"], "high"),
                low=decimal_text(c["low"], "low"),
                close=decimal_text(c["close"], "close"),
                volume=decimal_text(c["volume"], "volume"),
                closed=False,
            )
        )


def _list(event: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(event, dict):
        raise FrameError("event is not an object")
    items = event.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FrameError(f"event without a list of {key}")
    return items


def _levels(raw: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """level2 ``updates`` → (bids, asks); ``side`` is ``bid`` or ``offer`` (never ``ask``)."""
    if not isinstance(raw, list):
        raise FrameError("level2 event without an updates list")
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []
    for u in raw:
        if not isinstance(u, dict):
            raise FrameError("level2 update is not an object")
        side = u.get("side")
        level = (
            decimal_text(u.get("price_level"), "price_level"),
            decimal_text(u.get("new_quantity"), "new_quantity"),
        )
        if side == "bid":
            bids.append(level)
        elif side == "offer":
            asks.append(level)
        else:
            raise FrameError(f"level2 side {side!r:.20}")
    return bids, asks


def _opt(raw: Any) -> str | None:
    return None if raw is None else decimal_text(raw, "ticker field")


def _opt_signed(raw: Any) -> str | None:
    return None if raw is None else signed_decimal_text(raw, "ticker change")
