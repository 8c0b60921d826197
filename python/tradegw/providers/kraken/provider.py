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

import logging
from collections.abc import Callable
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
    decode_exact,
    timestamp_ns,
)
from tradegw.providers.kraken.decode import canonical_symbol, levels
from tradegw.providers.kraken.rest import fetch_asset_pairs
from tradegw.schema import KlineSummary, Ticker, Trade

if TYPE_CHECKING:
    from tradegw.providers.kraken.config import KrakenVenueConfig

log = logging.getLogger("tradegw.providers.kraken")

PROVIDER = "kraken"

_MAX_ID = 1 << 63
"""Trade ids are 64-bit counters at the venue: anything larger is not one."""

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
            self.rest_precision = await fetch_asset_pairs(rest)
        except RestError as e:
            self._counters.inc("rest_failures", PROVIDER)
            log.error("kraken: no REST reference data (%s); relying on the instrument channel", e)
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
        trades: list[tuple[str, int, dict[str, Any]]] = []
        for t in data:
            # One malformed item is that item's loss, not the frame's; and it is checked
            # before its id is remembered, so it cannot silence the stream.
            try:
                trades.append(self._trade_item(t))
            except MALFORMED as e:
                self.dead_letter(raw, trace_id, "malformed", f"trade item: {e}")
        # The last trade id seen per symbol before this frame: a re-subscription's snapshot
        # repeats recent trades (only newer ones are news), and the very first snapshot is
        # history from before we started.
        known = {symbol: self._last_trade_id.get(symbol) for symbol, _, _ in trades}
        if snapshot:
            for symbol, last in known.items():
                newest = max(i for s, i, _ in trades if s == symbol)
                if last is not None and newest < last:
                    # The venue knows no trade as recent as the one remembered: that id was
                    # bogus (or the venue renumbered). Start over from what it knows now.
                    self._counters.inc("trade_ids_rebased", PROVIDER)
                    log.warning("kraken: %s trade id %d above the venue's %d", symbol, last, newest)
                    self._last_trade_id[symbol] = known[symbol] = newest
        for symbol, trade_id, t in trades:
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
                        canonical_symbol(symbol),
                        "Trade",
                        timestamp_ns(t.get("timestamp")),
                        ingest_ts,
                        trace_id,
                    ),
                    price=_num(t["price"]),
                    qty=_num(t["qty"]),
                    side=t["side"],
                    trade_id=str(trade_id),
                    ord_type=t.get("ord_type"),
                )
            )

    def _trade_item(self, t: Any) -> tuple[str, int, dict[str, Any]]:
        """``(symbol, trade_id, item)`` of one trade, every field checked."""
        if not isinstance(t, dict):
            raise FrameError("trade item is not an object")
        symbol = self._configured(t.get("symbol"), "trade")
        trade_id = as_int(t["trade_id"], "trade_id")
        if not 0 <= trade_id < _MAX_ID:
            raise FrameError(f"trade_id out of range: {trade_id}")
        if t["side"] not in ("buy", "sell"):
            raise FrameError(f"trade side {t['side']!r:.20}")
        _num(t["price"])
        _num(t["qty"])
        timestamp_ns(t.get("timestamp"))
        return symbol, trade_id, t

    def _configured(self, symbol: Any, what: str) -> str:
        if not isinstance(symbol, str) or symbol not in self._symbols:
            raise FrameError(f"{what} for an unsubscribed symbol {symbol!r:.40}")
        return symbol

    def _on_ticker(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        for t in msg["data"]:
            symbol = self._configured(t["symbol"], "ticker")
            self.publish(
                Ticker(
                    **self.event_fields(
                        symbol,
                        canonical_symbol(symbol),
                        "Ticker",
                        timestamp_ns(t.get("timestamp")),
                        ingest_ts,
                        trace_id,
                    ),
                    bid=_num(t["bid"]),
                    bid_qty=_num(t["bid_qty"]),
                    ask=_num(t["ask"]),
                    ask_qty=_num(t["ask_qty"]),
                    last=_opt(t.get("last")),
                    volume=_opt(t.get("volume")),
                    vwap=_opt(t.get("vwap")),
                    low=_opt(t.get("low")),
                    high=_opt(t.get("high")),
                    change=_opt(t.get("change")),
                    change_pct=_opt(t.get("change_pct")),
                )
            )

    def _on_ohlc(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        for c in msg["data"]:
            symbol = self._configured(c["symbol"], "ohlc")
            open_ts = timestamp_ns(c["interval_begin"])
            if open_ts is None:
                raise FrameError("ohlc without interval_begin")
            self.publish(
                KlineSummary(
                    **self.event_fields(
                        symbol,
                        canonical_symbol(symbol),
                        "KlineSummary",
                        timestamp_ns(c.get("timestamp")),
                        ingest_ts,
                        trace_id,
                    ),
                    interval_s=as_int(c["interval"], "interval") * 60,
                    open_ts=open_ts,
                    open=_num(c["open"]),
                    high=_num(c["high"]),
                    low=_num(c["low"]),
                    close=_num(c["close"]),
                    volume=_num(c["volume"]),
                    vwap=_opt(c.get("vwap")),
                    trades=as_int(c["trades"], "trades") if "trades" in c else None,
                    closed=False,
                )
            )


def _num(raw: Any) -> str:
    """A price or quantity: the exact text of a JSON number (see base/decode.py)."""
    if not isinstance(raw, str) or not raw or raw[0] not in "0123456789-":
        raise FrameError(f"expected a number, got {raw!r}")
    return raw


def _opt(raw: Any) -> str | None:
    return None if raw is None else _num(raw)
