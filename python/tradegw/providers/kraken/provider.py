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
from typing import TYPE_CHECKING, Any, NamedTuple

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
    decode_exact,
    signed_decimal_text,
    timestamp_ns,
)
from tradegw.providers.kraken.decode import canonical_symbol, levels
from tradegw.providers.kraken.rest import fetch_asset_pairs
from tradegw.schema import KlineSummary, Side, Ticker, Trade

if TYPE_CHECKING:
    from tradegw.providers.kraken.config import KrakenVenueConfig

log = logging.getLogger("tradegw.providers.kraken")

PROVIDER = "kraken"

_MAX_ID = 1 << 63
"""Trade ids are 64-bit counters at the venue: anything larger is not one."""
_MAX_ID_JUMP = 1_000_000
"""How far a live trade's id may run ahead of the last one seen (a busy pair trades tens of
thousands of times a day, and a reconnect's snapshot re-bases the count)."""


class _TradeItem(NamedTuple):
    symbol: str
    canonical: str
    trade_id: int
    price: str
    qty: str
    side: Side
    ord_type: str | None
    exchange_ts: int | None


_Handler = Callable[[dict[str, Any], int, str, bytes], None]


class KrakenProvider(VenueProvider):
    """Kraken spot over WebSocket v2; run it with :meth:`run`."""

    name = PROVIDER
    config: KrakenVenueConfig

    def __init__(self, config: KrakenVenueConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.rest_precision: dict[str, tuple[int, int]] = {}
        self._precision: dict[str, tuple[int, int]] = {}
        self._last_trade_id: dict[str, int] = {}
        self._symbols = frozenset(config.symbols)
        self._last_book_payload = b""
        self._req_id = 0
        self._handlers: dict[str, _Handler] = {
            "book": self._on_book,
            "trade": self._on_trade,
            "ticker": self._on_ticker,
            "ohlc": self._on_ohlc,
            "instrument": self._on_instrument,
            "heartbeat": self._on_heartbeat,
            "status": self._on_status,
        }
        self.connection_id: int | None = None
        self.system_status: str | None = None

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
        self._subscribe_channels()

    # -- book --

    def _on_book(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        kind = msg.get("type")
        data = msg.get("data")
        if kind not in ("snapshot", "update") or not isinstance(data, list):
            raise FrameError("book frame without type snapshot/update and a data list")
        snapshot = kind == "snapshot"
        for item in data:
            book = self.book(str(item.get("symbol"))) if isinstance(item, dict) else None
            if book is None:
                raise FrameError(f"book data for an unsubscribed symbol: {item!r:.80}")
            try:
                bids = levels(item.get("bids", []), "bids")
                asks = levels(item.get("asks", []), "asks")
                checksum = as_int(item["checksum"], "checksum") if "checksum" in item else None
                exchange_ts = timestamp_ns(item.get("timestamp"))
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
            )

    # -- trades, tickers, candles --

    def _on_trade(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        data = msg.get("data")
        if not isinstance(data, list):
            raise FrameError("trade frame without a data list")
        snapshot = msg.get("type") == "snapshot"
        trades: list[_TradeItem] = []
        # One malformed item is that item's loss, not the frame's; and it is checked before
        # its id is remembered, so it cannot silence the stream.
        self.each_item(
            data, lambda t: trades.append(self._trade_item(t, snapshot)), raw, trace_id, "trade"
        )
        # The last trade id seen per symbol before this frame: a re-subscription's snapshot
        # repeats recent trades (only newer ones are news), and the very first snapshot is
        # history from before we started.
        known = {t.symbol: self._last_trade_id.get(t.symbol) for t in trades}
        if snapshot:
            for symbol, last in known.items():
                newest = max(t.trade_id for t in trades if t.symbol == symbol)
                if last is not None and newest < last:
                    # The venue knows no trade as recent as the one remembered: that id was
                    # bogus (or the venue renumbered). Start over from what it knows now.
                    self._counters.inc("trade_ids_rebased", PROVIDER)
                    log.warning("kraken: %s trade id %d above the venue's %d", symbol, last, newest)
                    self._last_trade_id[symbol] = known[symbol] = newest
        for t in trades:
            last = known[t.symbol]
            self._last_trade_id[t.symbol] = max(t.trade_id, self._last_trade_id.get(t.symbol, 0))
            if (last is None and snapshot) or (last is not None and t.trade_id <= last):
                if last is not None:
                    self._counters.inc("duplicate_trades", PROVIDER)
                continue
            self.publish(
                Trade(
                    **self.event_fields(
                        t.symbol, t.canonical, "Trade", t.exchange_ts, ingest_ts, trace_id
                    ),
                    price=t.price,
                    qty=t.qty,
                    side=t.side,
                    trade_id=str(t.trade_id),
                    ord_type=t.ord_type,
                )
            )

    def _trade_item(self, t: Any, snapshot: bool) -> _TradeItem:
        """One trade, every field checked."""
        if not isinstance(t, dict):
            raise FrameError("trade item is not an object")
        book = self._book_of(t.get("symbol"), "trade")
        trade_id = as_int(t["trade_id"], "trade_id")
        if not 0 <= trade_id < _MAX_ID:
            raise FrameError(f"trade_id out of range: {trade_id}")
        last = self._last_trade_id.get(book.symbol)
        if not snapshot and last is not None and trade_id > last + _MAX_ID_JUMP:
            # Ids count the pair's trades one by one; a live update cannot skip millions.
            # Remembering it would make every real trade after it look like a repeat.
            raise FrameError(f"trade_id {trade_id} jumps from {last}")
        side = t["side"]
        if side != "buy" and side != "sell":
            raise FrameError(f"trade side {side!r:.20}")
        ord_type = t.get("ord_type")
        if ord_type is not None and (not isinstance(ord_type, str) or len(ord_type) > 16):
            raise FrameError(f"trade ord_type {ord_type!r:.20}")
        return _TradeItem(
            book.symbol,
            book.canonical,
            trade_id,
            decimal_text(t["price"], "price", places=book.price_places, positive=True),
            decimal_text(t["qty"], "qty", places=book.qty_places, positive=True),
            side,
            ord_type,
            timestamp_ns(t.get("timestamp")),
        )

    def _book_of(self, symbol: Any, what: str) -> TrackedBook:
        return self.subscribed(self._configured(symbol, what), what)

    def _configured(self, symbol: Any, what: str) -> str:
        if not isinstance(symbol, str) or symbol not in self._symbols:
            raise FrameError(f"{what} for an unsubscribed symbol {symbol!r:.40}")
        return symbol

    def _on_ticker(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        self.each_item(
            _data(msg), lambda t: self._ticker(t, ingest_ts, trace_id), raw, trace_id, "ticker"
        )

    def _ticker(self, t: Any, ingest_ts: int, trace_id: str) -> None:
        if not isinstance(t, dict):
            raise FrameError("ticker item is not an object")
        book = self._book_of(t.get("symbol"), "ticker")
        pp, qp = book.price_places, book.qty_places
        self.publish(
            Ticker(
                **self.event_fields(
                    book.symbol,
                    book.canonical,
                    "Ticker",
                    timestamp_ns(t.get("timestamp")),
                    ingest_ts,
                    trace_id,
                ),
                bid=decimal_text(t["bid"], "bid", places=pp, positive=True),
                bid_qty=decimal_text(t["bid_qty"], "bid_qty", places=qp),
                ask=decimal_text(t["ask"], "ask", places=pp, positive=True),
                ask_qty=decimal_text(t["ask_qty"], "ask_qty", places=qp),
                last=_opt(t.get("last"), "last", pp),
                volume=_opt(t.get("volume"), "volume"),
                vwap=_opt(t.get("vwap"), "vwap"),
                low=_opt(t.get("low"), "low", pp),
                high=_opt(t.get("high"), "high", pp),
                change=_opt_signed(t.get("change"), "change"),
                change_pct=_opt_signed(t.get("change_pct"), "change_pct"),
            )
        )

    def _on_ohlc(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        self.each_item(
            _data(msg), lambda c: self._candle(c, ingest_ts, trace_id), raw, trace_id, "ohlc"
        )

    def _candle(self, c: Any, ingest_ts: int, trace_id: str) -> None:
        if not isinstance(c, dict):
            raise FrameError("ohlc item is not an object")
        book = self._book_of(c.get("symbol"), "ohlc")
        open_ts = timestamp_ns(c["interval_begin"])
        if open_ts is None:
            raise FrameError("ohlc without interval_begin")
        pp = book.price_places
        self.publish(
            KlineSummary(
                **self.event_fields(
                    book.symbol,
                    book.canonical,
                    "KlineSummary",
                    timestamp_ns(c.get("timestamp")),
                    ingest_ts,
                    trace_id,
                ),
                interval_s=as_int(c["interval"], "interval") * 60,
                open_ts=open_ts,
                open=decimal_text(c["open"], "open", places=pp),
                high=decimal_text(c["high"], "high", places=pp),
                low=decimal_text(c["low"], "low", places=pp),
                close=decimal_text(c["close"], "close", places=pp),
                volume=decimal_text(c["volume"], "volume"),
                vwap=_opt(c.get("vwap"), "vwap"),
                trades=as_int(c["trades"], "trades") if "trades" in c else None,
                closed=False,
            )
        )


def _data(msg: dict[str, Any]) -> list[Any]:
    data = msg.get("data")
    if not isinstance(data, list):
        raise FrameError(f"{msg.get('channel')!r:.20} frame without a data list")
    return data


def _opt(raw: Any, what: str, places: int | None = None) -> str | None:
    return None if raw is None else decimal_text(raw, what, places=places)


def _opt_signed(raw: Any, what: str) -> str | None:
    return None if raw is None else signed_decimal_text(raw, what)
