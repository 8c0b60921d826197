"""The Kraken spot adapter: WebSocket v2 public channels → canonical events.

One connection carries every configured symbol. On connect it subscribes ``instrument`` first
(prices and quantities are checksummed at the pair's precision, which only the venue knows),
then ``book``, ``trade``, ``ticker`` and ``ohlc``. Each book goes through
``_core.BookAssembler("kraken")``: every update's CRC32 is verified, and a mismatch, a
crossed book or a malformed frame resyncs that one symbol (unsubscribe + subscribe, fresh
snapshot) while the others keep flowing. The session loop, book health and the DLQ are the
shared :class:`~tradegw.providers.base.VenueProvider`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from tradegw._core import BookAssembler, KrakenFrameDecoder
from tradegw.providers.base import (
    MALFORMED,
    FrameError,
    RestClient,
    RestError,
    SnapshotToken,
    TrackedBook,
    VenueProvider,
    as_int,
    decode_exact,
)
from tradegw.providers.kraken.decode import canonical_symbol
from tradegw.providers.kraken.rest import fetch_asset_pairs
from tradegw.schema import KlineSummary, Ticker, Trade
from tradegw.telemetry import Telemetry

if TYPE_CHECKING:
    from tradegw.providers.kraken.config import KrakenVenueConfig

log = logging.getLogger("tradegw.providers.kraken")

PROVIDER = "kraken"

_MAX_ID_JUMP = 1_000_000
"""How far a live trade's id may run ahead of the last one seen (a busy pair trades tens of
thousands of times a day, and a reconnect's snapshot re-bases the count)."""


_Handler = Callable[[dict[str, Any], int, str, bytes], None]
_ItemsHandler = Callable[[bool, list[Any], int, str, bytes], None]


class KrakenProvider(VenueProvider):
    """Kraken spot over WebSocket v2; run it with :meth:`run`."""

    name = PROVIDER
    config: KrakenVenueConfig

    def __init__(self, config: KrakenVenueConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.rest_precision: dict[str, tuple[int, int]] = {}
        self._precision: dict[str, tuple[int, int]] = {}
        self._last_trade_id: dict[str, int] = {}
        self._last_book_payload = b""
        self._req_id = 0
        self._decoder = KrakenFrameDecoder()
        """Reads and checks the market-data frames natively; knows the tracked books'
        precisions (see :meth:`add_book`)."""
        self._market: dict[str, _ItemsHandler] = {
            "book": self._on_book,
            "trade": self._on_trade,
            "ticker": self._on_ticker,
            "ohlc": self._on_ohlc,
        }
        self._handlers: dict[str, _Handler] = {
            "instrument": self._on_instrument,
            "heartbeat": self._on_heartbeat,
            "status": self._on_status,
        }
        self.connection_id: int | None = None
        self.system_status: str | None = None

    @property
    def telemetry(self) -> Telemetry:
        """The gateway's telemetry (the order adapter counts and dead-letters through it)."""
        return self._telemetry

    # ---- session hooks ----

    async def load_reference_data(self) -> None:
        if not self.rest_url:
            return
        rest = RestClient(PROVIDER, self.rest_url, self._counters, self.config.rest)
        try:
            # The instrument channel carries the precisions too: REST that is slow or
            # failing must not keep market data away for longer than the budget.
            async with asyncio.timeout(self.config.reference_budget_s):
                self.rest_precision = await fetch_asset_pairs(rest)
        except (RestError, TimeoutError, *MALFORMED) as e:
            self._counters.inc("rest_failures", PROVIDER)
            why = (
                f"no answer within {self.config.reference_budget_s}s"
                if isinstance(e, TimeoutError)
                else f"{type(e).__name__}: {e}"
            )
            log.error("kraken: no REST reference data (%s); using the instrument channel", why)
            return
        finally:
            await rest.close()
        for symbol in self.config.symbols:
            if symbol not in self.rest_precision:
                log.error("kraken: AssetPairs does not list %s", symbol)

    def on_connected(self) -> None:
        self._last_book_payload = b""
        self._send({"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}})

    def send_ping(self) -> None:
        self._send({"method": "ping"})

    def request_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        # Kraken serves snapshots only on subscription: unsubscribe, subscribe again.
        depth = self.config.book_depth
        params = {"channel": "book", "symbol": [book.symbol], "depth": depth}
        self._send({"method": "unsubscribe", "params": params})
        self._send({"method": "subscribe", "params": {**params, "snapshot": True}})

    def book_checksum(self, book: TrackedBook) -> int | None:
        return book.asm.book.checksum_kraken()

    def add_book(self, symbol: str, canonical: str, asm: BookAssembler) -> TrackedBook:
        # The native decoder checks trades and tickers of tracked books only, at their
        # precisions: it learns of every book added (and of new precisions, _on_instrument).
        book = super().add_book(symbol, canonical, asm)
        self._decoder.set_precision(symbol, book.price_places, book.qty_places)
        return book

    # ---- outgoing ----

    def _send(self, msg: dict[str, Any]) -> None:
        self._req_id += 1
        msg["req_id"] = self._req_id
        self.send_text(orjson.dumps(msg))

    def _subscribe_channels(self) -> None:
        cfg = self.config
        symbols = [s for s in cfg.symbols if self.book(s) is not None]
        if not symbols:
            return
        for channel in cfg.channels:
            params: dict[str, Any] = {"channel": channel, "symbol": symbols}
            if channel == "book":
                params["depth"] = cfg.book_depth
                params["snapshot"] = True
                for s in symbols:
                    book = self.book(s)
                    assert book is not None
                    self.expect_snapshot(book)
            elif channel == "ticker":
                params["event_trigger"] = cfg.ticker_trigger
            elif channel == "ohlc":
                params["interval"] = cfg.ohlc_interval_min
            elif channel == "trade":
                params["snapshot"] = True
            self._send({"method": "subscribe", "params": params})

    # ---- incoming ----

    def handle_frame(self, payload: bytes, ingest_ts: int, trace_id: str) -> None:
        if payload.startswith(b'{"channel":"book"'):
            # Kraken v2 has no sequence numbers: a byte-identical repeat of the previous book
            # frame (timestamps included) can only be a duplicate delivery.
            if payload == self._last_book_payload:
                self._counters.inc("duplicate_frames", PROVIDER)
                return
            self._last_book_payload = payload
        # Book, trade, ticker and candle frames are read and checked natively, item by
        # item; the others (instrument, status, heartbeat, method replies) go on below.
        try:
            frame = self._decoder.decode(payload)
        except ValueError as e:
            raise FrameError(str(e)) from e
        if frame is not None:
            market, snapshot, items, stamp = frame
            if self.on_decoded is not None:
                # No dict of the frame was built: the hook gets what benches read from it.
                fields: dict[str, Any] = {"channel": market}
                if stamp is not None:
                    fields["sim_send_ns"] = stamp
                self.on_decoded(fields, trace_id)
            self._market[market](snapshot, items, ingest_ts, trace_id, payload)
            return
        msg = decode_exact(payload)
        if not isinstance(msg, dict):
            raise FrameError("frame is not a JSON object")
        if self.on_decoded is not None:
            self.on_decoded(msg, trace_id)
        channel = msg.get("channel")
        if channel is not None:
            handler = self._handlers.get(channel)
            if handler is None:
                raise FrameError(f"unknown channel {channel!r}")
            handler(msg, ingest_ts, trace_id, payload)
        elif "method" in msg:
            self._on_method(msg)
        else:
            raise FrameError("frame has neither 'channel' nor 'method'")

    def _on_method(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method in ("subscribe", "unsubscribe") and msg.get("success") is False:
            self._counters.inc("subscribe_errors", PROVIDER)
            log.error("kraken: %s failed: %s", method, msg.get("error"))

    def _on_heartbeat(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        pass  # the frame itself showed that the connection is alive

    def _on_status(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        for item in msg.get("data") or ():
            self.system_status = item.get("system")
            if "connection_id" in item:
                # Larger than 2**63: kept as a Python int from its exact text.
                self.connection_id = as_int(item["connection_id"], "connection_id")

    def _on_instrument(
        self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        data = msg.get("data")
        if not isinstance(data, dict):
            raise FrameError("instrument data is not an object")
        for pair in data.get("pairs") or ():
            symbol = pair["symbol"]
            prec = (
                as_int(pair["price_precision"], "price_precision"),
                as_int(pair["qty_precision"], "qty_precision"),
            )
            rest = self.rest_precision.get(symbol)
            if rest is not None and rest != prec:
                # The WebSocket is what the checksums are computed over, so it wins.
                self._counters.inc("precision_mismatches", PROVIDER)
                log.warning("kraken: %s precision REST %s vs instrument %s", symbol, rest, prec)
            self._precision[symbol] = prec
        if msg.get("type") != "snapshot":
            return
        for symbol in self.config.symbols:
            listed = self._precision.get(symbol)
            if listed is None:
                self._counters.inc("unknown_symbols", PROVIDER)
                log.error("kraken: %s is not listed by the venue; not subscribed", symbol)
                continue
            book = self.book(symbol)
            if book is None:
                asm = BookAssembler("kraken", listed[0], listed[1], self.config.book_depth)
                self.add_book(symbol, canonical_symbol(symbol), asm)
            elif (book.asm.book.price_precision, book.asm.book.qty_precision) != listed:
                book.replace_assembler(
                    BookAssembler("kraken", listed[0], listed[1], self.config.book_depth)
                )
                self._decoder.set_precision(symbol, *listed)
        self._subscribe_channels()

    # -- book, trades, tickers, candles: items the native decoder checked --
    #
    # A slot that is a str is an item the decoder refused: that item is lost (in the DLQ
    # with the frame), never its neighbours. What needs Python state stays here: event
    # numbering, the trade-id high-water mark, the books' health.

    def _on_book(
        self, snapshot: bool, items: list[Any], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for item in items:
            if item.__class__ is str:
                # Not one of our books: the frame is not what we subscribed to.
                raise FrameError(item)
            book = self._books[item[0]]
            if len(item) == 2:
                self.on_book_error(book, raw, trace_id, FrameError(item[1]))
                continue
            _, bids, asks, checksum, exchange_ts = item
            try:
                if snapshot:
                    outcome = book.asm.on_snapshot(bids, asks, checksum)
                else:
                    outcome = book.asm.on_update(bids, asks, checksum)
            except MALFORMED as e:
                self.on_book_error(book, raw, trace_id, e)
                continue
            self.on_book_outcome(
                book,
                outcome,
                snapshot=snapshot,
                bids=bids,
                asks=asks,
                checksum=checksum,
                exchange_ts=exchange_ts,
                ingest_ts=ingest_ts,
                trace_id=trace_id,
                raw=raw,
            )

    def _on_trade(
        self, snapshot: bool, items: list[Any], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        # (symbol, trade_id, price, qty, side, ord_type, exchange_ts) of the trades that are
        # well-formed; each is checked before its id is remembered, so a malformed one cannot
        # silence the stream.
        trades: list[tuple[str, int, str, str, Any, str | None, int | None]] = []
        for t in items:
            if t.__class__ is str:
                self.item_lost(raw, trace_id, "trade", FrameError(t))
                continue
            symbol, trade_id, price, qty, side, ord_type, exchange_ts = t
            last = self._last_trade_id.get(symbol)
            if not snapshot and last is not None and trade_id > last + _MAX_ID_JUMP:
                # Ids count the pair's trades one by one; a live update cannot skip millions.
                # Remembering it would make every real trade after it look like a repeat.
                jump = FrameError(f"trade_id {trade_id} jumps from {last}")
                self.item_lost(raw, trace_id, "trade", jump)
                continue
            trades.append((symbol, trade_id, price, qty, side, ord_type, exchange_ts))
        if not trades:
            return
        # The last trade id seen per symbol before this frame: a re-subscription's snapshot
        # repeats recent trades (only newer ones are news), and the very first snapshot is
        # history from before we started.
        known = {t[0]: self._last_trade_id.get(t[0]) for t in trades}
        if snapshot:
            for symbol, last in known.items():
                newest = max(t[1] for t in trades if t[0] == symbol)
                if last is not None and newest < last:
                    # The venue knows no trade as recent as the one remembered: that id was
                    # bogus (or the venue renumbered). Start over from what it knows now.
                    self._counters.inc("trade_ids_rebased", PROVIDER)
                    log.warning("kraken: %s trade id %d above the venue's %d", symbol, last, newest)
                    self._last_trade_id[symbol] = known[symbol] = newest
        for symbol, trade_id, price, qty, side, ord_type, exchange_ts in trades:
            last = known[symbol]
            self._last_trade_id[symbol] = max(trade_id, self._last_trade_id.get(symbol, 0))
            if (last is None and snapshot) or (last is not None and trade_id <= last):
                if last is not None:
                    self._counters.inc("duplicate_trades", PROVIDER)
                continue
            self.publish(
                Trade(
                    **self.event_fields(
                        symbol,
                        self._books[symbol].canonical,
                        "Trade",
                        exchange_ts,
                        ingest_ts,
                        trace_id,
                    ),
                    price=price,
                    qty=qty,
                    side=side,
                    trade_id=str(trade_id),
                    ord_type=ord_type,
                )
            )

    def _on_ticker(
        self, snapshot: bool, items: list[Any], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for t in items:
            if t.__class__ is str:
                self.item_lost(raw, trace_id, "ticker", FrameError(t))
                continue
            (
                symbol,
                exchange_ts,
                bid,
                bid_qty,
                ask,
                ask_qty,
                last,
                volume,
                vwap,
                low,
                high,
                ch,
                pct,
            ) = t
            self.publish(
                Ticker(
                    **self.event_fields(
                        symbol,
                        self._books[symbol].canonical,
                        "Ticker",
                        exchange_ts,
                        ingest_ts,
                        trace_id,
                    ),
                    bid=bid,
                    bid_qty=bid_qty,
                    ask=ask,
                    ask_qty=ask_qty,
                    last=last,
                    volume=volume,
                    vwap=vwap,
                    low=low,
                    high=high,
                    change=ch,
                    change_pct=pct,
                )
            )

    def _on_ohlc(
        self, snapshot: bool, items: list[Any], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        for c in items:
            if c.__class__ is str:
                self.item_lost(raw, trace_id, "ohlc", FrameError(c))
                continue
            (
                symbol,
                exchange_ts,
                open_ts,
                interval,
                open_,
                high,
                low,
                close,
                volume,
                vwap,
                trades,
            ) = c
            self.publish(
                KlineSummary(
                    **self.event_fields(
                        symbol,
                        self._books[symbol].canonical,
                        "KlineSummary",
                        exchange_ts,
                        ingest_ts,
                        trace_id,
                    ),
                    interval_s=interval * 60,
                    open_ts=open_ts,
                    open=open_,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume,
                    vwap=vwap,
                    trades=trades,
                    closed=False,
                )
            )
