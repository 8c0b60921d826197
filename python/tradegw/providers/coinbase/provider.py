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

Market-data frames (``l2_data``, ``market_trades``, ``ticker``, ``candles``) are read and
checked natively (``_core.CoinbaseFrameDecoder``), event by event and item by item, with the
rules the Python checks had; the sequence check, the trade tapes, book state and events stay
here. Other frames, and any the native reader refuses whole, are read with orjson.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from tradegw._core import BookAssembler, CoinbaseFrameDecoder
from tradegw.providers.base import (
    MALFORMED,
    FrameError,
    RestClient,
    RestError,
    SnapshotToken,
    TrackedBook,
    VenueProvider,
    as_int,
    decode,
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
"""Trade ids remembered per product to drop the repeats a re-subscription's snapshot
carries (Coinbase trade ids are strings, not promised to be numeric; the native decoder takes
only short plain tokens, 1-64 of ``[0-9A-Za-z-]``, as ids we keep in memory or hand on)."""
_MARKET = ("l2_data", "market_trades", "ticker", "candles")
"""The channels the native decoder reads."""
_AGGRESSOR: dict[bool, dict[str, Side]] = {
    True: {"BUY": "sell", "SELL": "buy"},
    False: {"BUY": "buy", "SELL": "sell"},
}
"""The aggressor of a trade by ``trade_side_is_maker`` and the venue's ``side``."""

_EventsHandler = Callable[[list[Any], int | None, int, str, bytes], None]


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
        self._decoder = CoinbaseFrameDecoder()
        """Reads and checks the market-data frames natively; knows the tracked books'
        precisions (see :meth:`add_book`)."""
        self._market: dict[str, _EventsHandler] = {
            "l2_data": self._on_level2,
            "market_trades": self._on_trades,
            "ticker": self._on_tickers,
            "candles": self._on_candles,
        }

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

    def add_book(self, symbol: str, canonical: str, asm: BookAssembler) -> TrackedBook:
        # The native decoder checks the events of tracked books only, trades and tickers at
        # their precisions: it learns of every book added (and of new assemblers, below).
        book = super().add_book(symbol, canonical, asm)
        self._decoder.set_precision(symbol, book.price_places, book.qty_places)
        return book

    def on_connected(self) -> None:
        self._last_seq = None
        # Per-book numbering belongs to the assemblers, which start over here.
        self._book_seq.clear()
        products = [b.symbol for b in self.tracked_books()]
        for book in self.tracked_books():
            book.replace_assembler(self._assembler(self.products[book.symbol]))
            self._decoder.set_precision(book.symbol, book.price_places, book.qty_places)
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
        # Market-data frames are read and checked natively; the others, and any the native
        # reader refuses whole, go the general way, which says why as it always did.
        try:
            frame = self._decoder.decode(payload)
        except ValueError as e:
            self._handle_general(payload, trace_id, refused=str(e))
            return
        if frame is None:
            self._handle_general(payload, trace_id)
            return
        channel, seq, exchange_ts, events, stamp = frame
        if self.on_decoded is not None:
            # No dict of the frame was built: the hook gets what benches read from it.
            fields: dict[str, Any] = {"channel": channel}
            if stamp is not None:
                fields["sim_send_ns"] = stamp
            self.on_decoded(fields, trace_id)
        if seq is not None and not self._in_sequence(seq, trace_id):
            return
        if isinstance(events, str):
            # No events list or a bad timestamp: known only now that the frame has counted.
            raise FrameError(events)
        self._market[channel](events, exchange_ts, ingest_ts, trace_id, payload)

    def _handle_general(self, payload: bytes, trace_id: str, refused: str | None = None) -> None:
        """Heartbeats, subscription acks, status and error frames; ``refused`` is why the
        native reader refused the frame (then orjson most likely refuses it too)."""
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
        if not isinstance(msg.get("events"), list):
            raise FrameError("frame without an events list")
        if channel in ("heartbeats", "subscriptions", "status"):
            return  # the frame itself showed that the connection is alive
        if refused is not None and channel in _MARKET:
            # JSON orjson reads but the native reader does not (nested deeper than 128): the
            # frame has counted, its events are lost.
            raise FrameError(refused)
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

    # -- level2, trades, tickers, candles: events the native decoder checked --
    #
    # A slot that is a str is why the decoder refused that item: it is lost by itself (in
    # the DLQ with the frame), as is any item whose handling below fails, never its
    # neighbours. An event slot of trades, tickers or candles that is a str loses the rest
    # of the frame.

    def _on_level2(
        self, events: list[Any], exchange_ts: int | None, ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for event in events:
            try:
                if event.__class__ is str:
                    raise FrameError(event)
                self._on_level2_event(event, exchange_ts, ingest_ts, trace_id, raw)
            except MALFORMED as e:
                self.item_lost(raw, trace_id, "level2 event", e)

    def _on_level2_event(
        self,
        event: tuple[Any, ...],
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
        raw: bytes,
    ) -> None:
        book = self._books[event[0]]
        if len(event) == 2:
            # A malformed event of this book: lost, so the book can no longer be trusted.
            self.on_book_error(book, raw, trace_id, FrameError(event[1]))
            return
        _, snapshot, bids, asks = event
        try:
            if snapshot:
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
            snapshot=snapshot,
            bids=bids,
            asks=asks,
            checksum=None,
            exchange_ts=exchange_ts,
            ingest_ts=ingest_ts,
            trace_id=trace_id,
        )

    def _on_trades(
        self, events: list[Any], exchange_ts: int | None, ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for event in events:
            if event.__class__ is str:
                raise FrameError(event)
            snapshot, trades = event
            # A product's first snapshot is history from before we started: remembered, not
            # news. (Only well-formed trades can be either, so only their products count.)
            history: set[str] = set()
            if snapshot:
                history = {t[0] for t in trades if t.__class__ is not str} - self._tapes.keys()
            for t in trades:
                try:
                    if t.__class__ is str:
                        raise FrameError(t)
                    self._on_trade(t, history, ingest_ts, trace_id)
                except MALFORMED as e:
                    self.item_lost(raw, trace_id, "trade", e)

    def _on_trade(
        self, t: tuple[Any, ...], history: set[str], ingest_ts: int, trace_id: str
    ) -> None:
        product_id, trade_id, price, size, side, exchange_ts = t
        book = self._books[product_id]
        # Every field was checked before the id is remembered: a trade we reject must not
        # make its later (valid) repetition look like a duplicate.
        trade = Trade(
            **self.event_fields(
                book.symbol,
                book.canonical,
                "Trade",
                exchange_ts,
                ingest_ts,
                trace_id,
                numbered=False,
            ),
            price=price,
            qty=size,
            side=_AGGRESSOR[self.config.trade_side_is_maker][side],
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

    def _on_tickers(
        self, events: list[Any], exchange_ts: int | None, ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for event in events:
            if event.__class__ is str:
                raise FrameError(event)
            for t in event:
                try:
                    if t.__class__ is str:
                        raise FrameError(t)
                    self._on_ticker(t, exchange_ts, ingest_ts, trace_id)
                except MALFORMED as e:
                    self.item_lost(raw, trace_id, "ticker", e)

    def _on_ticker(
        self, t: tuple[Any, ...], exchange_ts: int | None, ingest_ts: int, trace_id: str
    ) -> None:
        product_id, bid, bid_qty, ask, ask_qty, last, volume, low, high, change_pct = t
        book = self._books[product_id]
        self.publish(
            Ticker(
                **self.event_fields(
                    book.symbol, book.canonical, "Ticker", exchange_ts, ingest_ts, trace_id
                ),
                bid=bid,
                bid_qty=bid_qty,
                ask=ask,
                ask_qty=ask_qty,
                last=last,
                volume=volume,
                low=low,
                high=high,
                change_pct=change_pct,
            )
        )

    def _on_candles(
        self, events: list[Any], exchange_ts: int | None, ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for event in events:
            if event.__class__ is str:
                raise FrameError(event)
            for c in event:
                try:
                    if c.__class__ is str:
                        raise FrameError(c)
                    self._on_candle(c, exchange_ts, ingest_ts, trace_id)
                except MALFORMED as e:
                    self.item_lost(raw, trace_id, "candle", e)

    def _on_candle(
        self, c: tuple[Any, ...], exchange_ts: int | None, ingest_ts: int, trace_id: str
    ) -> None:
        product_id, start, open_, high, low, close, volume = c
        book = self._books[product_id]
        self.publish(
            KlineSummary(
                **self.event_fields(
                    book.symbol, book.canonical, "KlineSummary", exchange_ts, ingest_ts, trace_id
                ),
                interval_s=_CANDLE_S,
                open_ts=start * 1_000_000_000,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume,
                closed=False,
            )
        )
