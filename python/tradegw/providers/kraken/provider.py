"""The Kraken spot adapter: WebSocket v2 public channels → canonical events.

One connection carries every configured symbol. On connect it subscribes ``instrument`` first
(prices and quantities are checksummed at the pair's precision, which only the venue knows),
then ``book``, ``trade``, ``ticker`` and ``ohlc``. Each book goes through
``_core.BookAssembler("kraken")``: every update's CRC32 is verified, and a mismatch, a
crossed book or a malformed frame resyncs that one symbol (unsubscribe + subscribe, fresh
snapshot) while the others keep flowing. A silent connection is dropped after
``stale_after_s`` and re-established with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from picows import WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradegw._core import BookAssembler
from tradegw.errors import BookError
from tradegw.providers.kraken.decode import (
    FrameError,
    as_int,
    canonical_symbol,
    decode,
    levels,
    timestamp_ns,
)
from tradegw.providers.kraken.rest import RestUnavailable, fetch_asset_pairs
from tradegw.schema import (
    BookSnapshot,
    BookStatus,
    BookUpdate,
    KlineSummary,
    ResyncReason,
    Ticker,
    Trade,
    new_trace_id,
)

if TYPE_CHECKING:
    from tradegw.config import KrakenVenueConfig
    from tradegw.dispatch import Dispatcher
    from tradegw.schema import Event
    from tradegw.telemetry import Telemetry

log = logging.getLogger("tradegw.providers.kraken")

PROVIDER = "kraken"
_TICK_S = 0.25


class _Book:
    """One symbol's book and its health."""

    __slots__ = (
        "asm",
        "canonical",
        "reason",
        "resync_deadline",
        "status",
        "symbol",
        "synced_at",
    )

    def __init__(self, symbol: str, asm: BookAssembler) -> None:
        self.symbol = symbol
        self.canonical = canonical_symbol(symbol)
        self.asm = asm
        self.status = "resyncing"
        self.reason: ResyncReason | None = None
        self.resync_deadline = 0.0
        self.synced_at = 0.0


class _Listener(WSListener):
    """Hands each frame, stamped the moment it leaves the socket, to the provider."""

    def __init__(self, on_frame: Callable[[bytes, int], None]) -> None:
        super().__init__()
        self._on_frame = on_frame

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        ingest_ts = time.time_ns()
        mt = frame.msg_type
        if mt == WSMsgType.TEXT or mt == WSMsgType.BINARY:
            self._on_frame(frame.get_payload_as_bytes(), ingest_ts)
        elif mt == WSMsgType.CLOSE:
            transport.disconnect()


class KrakenProvider:
    """Connects, subscribes, assembles and publishes; run it with :meth:`run`."""

    name = PROVIDER

    def __init__(
        self,
        config: KrakenVenueConfig,
        dispatcher: Dispatcher,
        telemetry: Telemetry,
        *,
        ws_url: str | None = None,
        rest_url: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.ws_url = ws_url or config.ws_url
        self.rest_url = rest_url if rest_url is not None else config.rest_url
        self.rest_precision: dict[str, tuple[int, int]] = {}
        self._dispatcher = dispatcher
        self._telemetry = telemetry
        self._counters = telemetry.counters
        self._rng = rng or random.Random()
        self._books: dict[str, _Book] = {}
        self._by_canonical: dict[str, _Book] = {}
        self._precision: dict[str, tuple[int, int]] = {}
        self._seq: dict[tuple[str, str], int] = {}
        self._last_trade_id: dict[str, int] = {}
        self._transport: WSTransport | None = None
        self._last_book_payload = b""
        self._last_rx = 0.0
        self._last_ping = 0.0
        self._req_id = 0
        self._stopping = False
        self._handlers: dict[str, Callable[[dict[str, Any], int, str, bytes], None]] = {
            "book": self._on_book,
            "trade": self._on_trade,
            "ticker": self._on_ticker,
            "ohlc": self._on_ohlc,
            "instrument": self._on_instrument,
            "heartbeat": self._on_heartbeat,
            "status": self._on_status,
        }
        self.on_decoded: Callable[[dict[str, Any], str], None] | None = None
        """Optional hook called with every decoded frame and its trace_id (benches use it to
        read the simulator's send stamp); None on the hot path."""
        self.connected = asyncio.Event()
        self.connection_id: int | None = None
        self.system_status: str | None = None
        dispatcher.register_book_source(PROVIDER, self.book_snapshot)

    # ---- lifecycle ----

    async def run(self) -> None:
        """Keeps a connection up until :meth:`stop` (or cancellation)."""
        await self._load_reference_data()
        attempt = 0
        while not self._stopping:
            try:
                transport, _ = await ws_connect(
                    lambda: _Listener(self._on_frame),
                    self.ws_url,
                    websocket_handshake_timeout=5,
                    enable_auto_pong=True,
                )
            except (OSError, TimeoutError, WSError) as e:
                # Refused, unreachable, timed out or a failed handshake: all retried.
                self._counters.inc("connect_failures", PROVIDER)
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "kraken: connect to %s failed (%s); retry in %.2fs", self.ws_url, e, delay
                )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._transport = transport
            self._last_rx = self._last_ping = time.monotonic()
            self._last_book_payload = b""
            self._subscribe_instrument()
            self.connected.set()
            watchdog = asyncio.get_running_loop().create_task(self._watchdog(transport))
            try:
                await transport.wait_disconnected()
            finally:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
                self._transport = None
                self.connected.clear()
            if self._stopping:
                break
            self._counters.inc("reconnects", PROVIDER)
            for book in self._books.values():
                self._mark_resyncing(book, "reconnect")
            delay = self._backoff(0)
            log.warning("kraken: disconnected; reconnecting in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _load_reference_data(self) -> None:
        if not self.rest_url or self.rest_url == "sim":
            return
        try:
            self.rest_precision = await fetch_asset_pairs(self.rest_url, self._counters)
        except RestUnavailable as e:
            self._counters.inc("rest_failures", PROVIDER)
            log.error("kraken: no REST reference data (%s); relying on the instrument channel", e)
            return
        for symbol in self.config.symbols:
            if symbol not in self.rest_precision:
                log.error("kraken: AssetPairs does not list %s", symbol)

    def stop(self) -> None:
        """Closes the connection and ends :meth:`run`."""
        self._stopping = True
        if self._transport is not None:
            self._transport.disconnect()

    def _backoff(self, attempt: int) -> float:
        r = self.config.reconnect
        delay = min(r.max_s, r.initial_s * r.multiplier**attempt)
        return float(delay * (1 + self._rng.uniform(-r.jitter, r.jitter)))

    async def _watchdog(self, transport: WSTransport) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.monotonic()
            if now - self._last_rx > cfg.stale_after_s:
                self._counters.inc("stale", PROVIDER)
                log.warning("kraken: no data for %.1fs; reconnecting", now - self._last_rx)
                for book in self._books.values():
                    self._mark_resyncing(book, "stale")
                transport.disconnect()
                return
            if now - self._last_ping > cfg.ping_interval_s:
                self._last_ping = now
                self._send({"method": "ping"})
            for book in self._books.values():
                if (
                    book.status == "resyncing"
                    and book.resync_deadline
                    and now > book.resync_deadline
                ):
                    self._counters.inc("resync_retries", PROVIDER, book.canonical)
                    self._resubscribe_book(book)
                elif book.status == "synced" and now - book.synced_at > cfg.refresh_interval_s:
                    # Keeps serving the old book: status stays synced until the fresh snapshot
                    # replaces it, so consumers see no gap.
                    self._counters.inc("refreshes", PROVIDER, book.canonical)
                    book.synced_at = now
                    self._resubscribe_book(book)

    # ---- outgoing ----

    def _send(self, msg: dict[str, Any]) -> None:
        if self._transport is None:
            return
        self._req_id += 1
        msg["req_id"] = self._req_id
        self._transport.send(WSMsgType.TEXT, orjson.dumps(msg))

    def _subscribe_instrument(self) -> None:
        self._send({"method": "subscribe", "params": {"channel": "instrument", "snapshot": True}})

    def _subscribe_channels(self) -> None:
        cfg = self.config
        symbols = [s for s in cfg.symbols if s in self._books]
        if not symbols:
            return
        for channel in cfg.channels:
            params: dict[str, Any] = {"channel": channel, "symbol": symbols}
            if channel == "book":
                params["depth"] = cfg.book_depth
                params["snapshot"] = True
                now = time.monotonic()
                for b in symbols:
                    self._books[b].resync_deadline = now + cfg.resync_timeout_s
            elif channel == "ticker":
                params["event_trigger"] = cfg.ticker_trigger
            elif channel == "ohlc":
                params["interval"] = cfg.ohlc_interval_min
            elif channel == "trade":
                params["snapshot"] = True
            self._send({"method": "subscribe", "params": params})

    def _resubscribe_book(self, book: _Book) -> None:
        depth = self.config.book_depth
        self._send(
            {
                "method": "unsubscribe",
                "params": {"channel": "book", "symbol": [book.symbol], "depth": depth},
            }
        )
        self._send(
            {
                "method": "subscribe",
                "params": {
                    "channel": "book",
                    "symbol": [book.symbol],
                    "depth": depth,
                    "snapshot": True,
                },
            }
        )
        book.resync_deadline = time.monotonic() + self.config.resync_timeout_s

    # ---- incoming ----

    def _on_frame(self, payload: bytes, ingest_ts: int) -> None:
        self._last_rx = time.monotonic()
        self._counters.inc("frames", PROVIDER)
        if payload.startswith(b'{"channel":"book"'):
            # Kraken v2 has no sequence numbers: a byte-identical repeat of the previous book
            # frame (timestamps included) can only be a duplicate delivery.
            if payload == self._last_book_payload:
                self._counters.inc("duplicate_frames", PROVIDER)
                return
            self._last_book_payload = payload
        trace_id = new_trace_id()
        try:
            msg = decode(payload)
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
        except (FrameError, BookError, ValueError, TypeError, KeyError, ArithmeticError) as e:
            self._dead_letter(payload, trace_id, "malformed", f"{type(e).__name__}: {e}")
        except Exception as e:
            # A frame our handlers did not expect must still never end the feed.
            log.exception("kraken: frame handler failed trace_id=%s", trace_id)
            self._dead_letter(payload, trace_id, "handler_error", f"{type(e).__name__}: {e}")

    def _dead_letter(self, payload: bytes, trace_id: str, reason: str, detail: str) -> None:
        self._counters.inc("dlq", PROVIDER)
        self._telemetry.dlq.put(
            provider=PROVIDER, reason=reason, raw=payload, trace_id=trace_id, detail=detail
        )

    def _on_method(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method in ("subscribe", "unsubscribe") and msg.get("success") is False:
            self._counters.inc("subscribe_errors", PROVIDER)
            log.error("kraken: %s failed: %s", method, msg.get("error"))

    def _on_heartbeat(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        pass  # _on_frame already noted that the connection is alive

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
            book = self._books.get(symbol)
            asm = book.asm if book is not None else None
            if asm is None or (asm.book.price_precision, asm.book.qty_precision) != listed:
                asm = BookAssembler("kraken", listed[0], listed[1], self.config.book_depth)
                if book is None:
                    book = _Book(symbol, asm)
                    self._books[symbol] = book
                    self._by_canonical[book.canonical] = book
                else:
                    book.asm = asm
        self._subscribe_channels()

    def _next_seq(self, symbol: str, event_type: str) -> int:
        key = (symbol, event_type)
        seq = self._seq.get(key, 0) + 1
        self._seq[key] = seq
        return seq

    def _publish(self, event: Event) -> None:
        self._counters.inc("events", PROVIDER, event.event_type)
        self._dispatcher.publish(event)

    # -- book --

    def _on_book(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        kind = msg.get("type")
        data = msg.get("data")
        if kind not in ("snapshot", "update") or not isinstance(data, list):
            raise FrameError("book frame without type snapshot/update and a data list")
        for item in data:
            book = self._books.get(str(item.get("symbol"))) if isinstance(item, dict) else None
            if book is None:
                raise FrameError(f"book data for an unsubscribed symbol: {item!r:.80}")
            try:
                bids = levels(item.get("bids", []), "bids")
                asks = levels(item.get("asks", []), "asks")
                checksum = as_int(item["checksum"], "checksum") if "checksum" in item else None
                exchange_ts = timestamp_ns(item.get("timestamp"))
                if kind == "snapshot":
                    outcome = book.asm.on_snapshot(bids, asks, checksum)
                else:
                    outcome = book.asm.on_update(bids, asks, checksum)
            except (FrameError, BookError, ValueError, TypeError, ArithmeticError) as e:
                # The update is lost to us, so this book can no longer be trusted.
                self._dead_letter(raw, trace_id, "malformed", f"{book.symbol}: {e}")
                self._resync(book, "gap", trace_id)
                continue
            if outcome == "applied":
                if checksum is not None:
                    self._counters.inc("checksum_ok", PROVIDER, book.canonical)
                if kind == "snapshot":
                    self._on_synced(book, checksum, exchange_ts, ingest_ts, trace_id)
                elif book.status == "synced":
                    self._publish(
                        BookUpdate(
                            provider=PROVIDER,
                            symbol=book.canonical,
                            venue_symbol=book.symbol,
                            seq_provider=self._next_seq(book.symbol, "BookUpdate"),
                            exchange_ts=exchange_ts,
                            ingest_ts=ingest_ts,
                            trace_id=trace_id,
                            bids=bids,
                            asks=asks,
                            checksum=checksum,
                        )
                    )
            elif outcome == "checksum_mismatch":
                self._counters.inc("checksum_failed", PROVIDER, book.canonical)
                self._resync(book, "checksum", trace_id)
            elif outcome == "crossed":
                self._resync(book, "crossed", trace_id)
            else:  # needs_snapshot: updates racing a resync we already asked for
                self._counters.inc("updates_while_resyncing", PROVIDER, book.canonical)

    def _on_synced(
        self,
        book: _Book,
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
    ) -> None:
        was = book.status
        book.status = "synced"
        book.reason = None
        book.resync_deadline = 0.0
        book.synced_at = time.monotonic()
        if was != "synced":
            self._publish_status(book, ingest_ts, trace_id)
        self._publish(self._snapshot_event(book, checksum, exchange_ts, ingest_ts, trace_id))

    def _snapshot_event(
        self,
        book: _Book,
        checksum: int | None,
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
        seq: bool = True,
    ) -> BookSnapshot:
        ob = book.asm.book
        depth = self.config.book_depth
        bids, asks = ob.top(depth)
        return BookSnapshot(
            provider=PROVIDER,
            symbol=book.canonical,
            venue_symbol=book.symbol,
            seq_provider=self._next_seq(book.symbol, "BookSnapshot") if seq else None,
            exchange_ts=exchange_ts,
            ingest_ts=ingest_ts,
            trace_id=trace_id,
            bids=bids,
            asks=asks,
            depth=depth,
            checksum=checksum if checksum is not None else ob.checksum_kraken(),
            price_precision=ob.price_precision,
            qty_precision=ob.qty_precision,
        )

    def _publish_status(self, book: _Book, ingest_ts: int, trace_id: str) -> None:
        self._publish(
            BookStatus(
                provider=PROVIDER,
                symbol=book.canonical,
                venue_symbol=book.symbol,
                seq_provider=self._next_seq(book.symbol, "BookStatus"),
                exchange_ts=None,
                ingest_ts=ingest_ts,
                trace_id=trace_id,
                state=book.status,  # type: ignore[arg-type]
                reason=book.reason,
            )
        )

    def _mark_resyncing(
        self, book: _Book, reason: ResyncReason, trace_id: str | None = None
    ) -> bool:
        if book.status == "resyncing" and book.reason is not None:
            return False
        book.status = "resyncing"
        book.reason = reason
        self._publish_status(book, time.time_ns(), trace_id or new_trace_id())
        return True

    def _resync(self, book: _Book, reason: ResyncReason, trace_id: str) -> None:
        if self._mark_resyncing(book, reason, trace_id):
            self._counters.inc("resyncs", PROVIDER, book.canonical)
            self._counters.inc(f"resyncs_{reason}", PROVIDER)
            log.info("kraken: resync %s (%s) trace_id=%s", book.symbol, reason, trace_id)
            self._resubscribe_book(book)

    def book_snapshot(self, provider: str, symbol: str) -> BookSnapshot | None:
        """A fresh snapshot event of a synced book (for consumers that fell behind)."""
        book = self._by_canonical.get(symbol)
        if book is None or book.status != "synced":
            return None
        return self._snapshot_event(book, None, None, time.time_ns(), new_trace_id(), seq=False)

    def books(self) -> dict[str, tuple[str, BookAssembler]]:
        """Each book's status and assembler, by canonical symbol (for operators and tests)."""
        return {b.canonical: (b.status, b.asm) for b in self._books.values()}

    # -- trades, tickers, candles --

    def _on_trade(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        snapshot = msg.get("type") == "snapshot"
        # The last trade id seen per symbol before this frame: a re-subscription's snapshot
        # repeats recent trades (only newer ones are news), and the very first snapshot is
        # history from before we started.
        known = {t["symbol"]: self._last_trade_id.get(t["symbol"]) for t in msg["data"]}
        for t in msg["data"]:
            symbol = t["symbol"]
            trade_id = as_int(t["trade_id"], "trade_id")
            self._last_trade_id[symbol] = max(trade_id, self._last_trade_id.get(symbol, 0))
            last = known[symbol]
            if (last is None and snapshot) or (last is not None and trade_id <= last):
                if last is not None:
                    self._counters.inc("duplicate_trades", PROVIDER)
                continue
            side = t["side"]
            if side not in ("buy", "sell"):
                raise FrameError(f"trade side {side!r}")
            self._publish(
                Trade(
                    provider=PROVIDER,
                    symbol=canonical_symbol(symbol),
                    venue_symbol=symbol,
                    seq_provider=self._next_seq(symbol, "Trade"),
                    exchange_ts=timestamp_ns(t.get("timestamp")),
                    ingest_ts=ingest_ts,
                    trace_id=trace_id,
                    price=_num(t["price"]),
                    qty=_num(t["qty"]),
                    side=side,
                    trade_id=str(trade_id),
                    ord_type=t.get("ord_type"),
                )
            )

    def _on_ticker(self, msg: dict[str, Any], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        for t in msg["data"]:
            symbol = t["symbol"]
            self._publish(
                Ticker(
                    provider=PROVIDER,
                    symbol=canonical_symbol(symbol),
                    venue_symbol=symbol,
                    seq_provider=self._next_seq(symbol, "Ticker"),
                    exchange_ts=timestamp_ns(t.get("timestamp")),
                    ingest_ts=ingest_ts,
                    trace_id=trace_id,
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
            symbol = c["symbol"]
            open_ts = timestamp_ns(c["interval_begin"])
            if open_ts is None:
                raise FrameError("ohlc without interval_begin")
            self._publish(
                KlineSummary(
                    provider=PROVIDER,
                    symbol=canonical_symbol(symbol),
                    venue_symbol=symbol,
                    seq_provider=self._next_seq(symbol, "KlineSummary"),
                    exchange_ts=timestamp_ns(c.get("timestamp")),
                    ingest_ts=ingest_ts,
                    trace_id=trace_id,
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
    """A price or quantity: the exact text of a JSON number (see decode.py)."""
    if not isinstance(raw, str) or not raw or raw[0] not in "0123456789-":
        raise FrameError(f"expected a number, got {raw!r}")
    return raw


def _opt(raw: Any) -> str | None:
    return None if raw is None else _num(raw)
