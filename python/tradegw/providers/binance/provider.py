"""The Binance spot adapter: combined market streams + REST depth snapshots → canonical events.

One connection carries every stream, named in the URL (``/stream?streams=a/b/c``), so no
control message is needed (Binance allows five per second per connection). Books follow the
venue's procedure: diffs are buffered from the first one on, the REST snapshot is fetched
once the first diff is in, a snapshot older than the first buffered diff is fetched again,
buffered diffs at or below ``lastUpdateId`` are dropped and the rest applied by the U/u rule;
a gap (``U > local + 1``) resyncs that one book while the others keep flowing. Snapshot
answers carry the token (assembler and epoch) they were asked under and are dropped if the
book has moved on. Every ``bookTicker`` whose ``u`` equals the book's last applied update id
is checked against the book's best bid and ask; a difference resyncs the book.

The server pings every 20 s (picows answers, echoing the payload); a ``serverShutdown`` event
and the connection's age (the venue cuts at 24 h) end the connection on our terms, and the
session loop reconnects. REST calls spend request weight from a bucket that follows
``X-MBX-USED-WEIGHT-1M``; 429 and 418 are honoured by the shared REST client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tradegw._core import BinanceFrameDecoder, BookAssembler
from tradegw.providers.base import (
    MALFORMED,
    FrameError,
    RestClient,
    RestError,
    SnapshotToken,
    TrackedBook,
    VenueProvider,
    decode,
)
from tradegw.providers.binance.rest import (
    USED_WEIGHT_HEADER,
    DepthSnapshot,
    SymbolInfo,
    fetch_depth,
    fetch_symbols,
)
from tradegw.schema import KlineSummary, Ticker, Trade, new_trace_id

if TYPE_CHECKING:
    from tradegw.providers.binance.config import BinanceVenueConfig

log = logging.getLogger("tradegw.providers.binance")

PROVIDER = "binance"

_MAX_REFETCH = 5
"""Snapshots older than the first buffered diff fetched again in a row, before the resync
deadline takes over."""

_EventHandler = Callable[[tuple[Any, ...], int, str, bytes], None]


class BinanceProvider(VenueProvider):
    """Binance spot market data; run it with :meth:`run`."""

    name = PROVIDER
    full_book_diffs = True
    config: BinanceVenueConfig

    def __init__(self, config: BinanceVenueConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.symbols: dict[str, SymbolInfo] = {}
        self._rest: RestClient | None = None
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._stats_24h: dict[str, dict[str, Any]] = {}
        self._bbo: dict[str, tuple[str, str, str, str]] = {}
        self._bbo_id: dict[str, int] = {}
        self._decoder = BinanceFrameDecoder()
        """Reads and checks the market-data frames natively; knows the tracked books'
        precisions (see :meth:`add_book`)."""
        self._market: dict[str, _EventHandler] = {
            "depthUpdate": self._on_depth,
            "trade": self._on_trade,
            "aggTrade": self._on_trade,
            "bookTicker": self._on_book_ticker,
            "24hrTicker": self._on_ticker_24h,
            "kline": self._on_kline,
        }

    # ---- session hooks ----

    async def load_reference_data(self) -> None:
        if not self.rest_url:
            raise RestError("binance needs REST for depth snapshots: set venues.binance.rest_url")
        if self._rest is None:
            # One client for the whole run (snapshots use it too), however often this
            # is retried.
            self._rest = RestClient(
                PROVIDER,
                self.rest_url,
                self._counters,
                self.config.rest,
                used_weight_header=USED_WEIGHT_HEADER,
                rng=self._rng,
            )
        self.symbols = await fetch_symbols(self._rest, list(self.config.symbols))
        for symbol in self.config.symbols:
            info = self.symbols.get(symbol)
            if info is None or info.status != "TRADING":
                self._counters.inc("unknown_symbols", PROVIDER)
                log.error("binance: %s is not trading (%s); not subscribed", symbol, info)
                continue
            self.add_book(symbol, info.canonical, self._assembler(info))

    def _assembler(self, info: SymbolInfo) -> BookAssembler:
        # The whole book: diffs reach levels far below the published depth, which may come
        # into view later.
        return BookAssembler(PROVIDER, info.price_precision, info.qty_precision)

    def add_book(self, symbol: str, canonical: str, asm: BookAssembler) -> TrackedBook:
        # The native decoder checks the events of tracked books only, at their precisions:
        # it learns of every book added (and of every new assembler, on_connected).
        book = super().add_book(symbol, canonical, asm)
        self._decoder.set_precision(symbol, book.price_places, book.qty_places)
        return book

    def connect_url(self) -> str:
        names = []
        cfg = self.config
        for book in self.tracked_books():
            s = book.symbol.lower()
            for channel in cfg.channels:
                if channel == "depth":
                    speed = "@100ms" if cfg.depth_speed == "100ms" else ""
                    names.append(f"{s}@depth{speed}")
                elif channel == "kline":
                    names.append(f"{s}@kline_{cfg.kline_interval}")
                else:
                    names.append(f"{s}@{channel}")
        return f"{self.ws_url.rstrip('/')}/stream?streams={'/'.join(names)}"

    def on_connected(self) -> None:
        # Diffs of the old connection are of no use to the new one: every book starts over,
        # and its snapshot is fetched once its first diff has been buffered.
        for book in self.tracked_books():
            info = self.symbols[book.symbol]
            book.replace_assembler(self._assembler(info))
            self._decoder.set_precision(book.symbol, book.price_places, book.qty_places)
            self.expect_snapshot(book)

    def on_disconnected(self) -> None:
        for task in self._fetching.values():
            task.cancel()
        self._fetching.clear()

    def on_tick(self, now: float) -> bool:
        if now - self.connected_at > self.config.max_connection_age_s:
            self._counters.inc("planned_reconnects", PROVIDER)
            log.info("binance: connection is %.0fs old; reconnecting", now - self.connected_at)
            return False
        return True

    def request_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        running = self._fetching.get(book.symbol)
        if running is not None and not running.done():
            return  # its answer is checked against the book's token when it comes
        self._fetching[book.symbol] = asyncio.get_running_loop().create_task(
            self._fetch_snapshot(book, token), name=f"binance-depth-{book.symbol}"
        )

    async def close(self) -> None:
        self.on_disconnected()
        if self._rest is not None:
            await self._rest.close()

    # ---- snapshots ----

    async def _fetch_snapshot(self, book: TrackedBook, token: SnapshotToken) -> None:
        assert self._rest is not None
        for _ in range(_MAX_REFETCH):
            try:
                snap = await fetch_depth(self._rest, book.symbol, self.config.snapshot_limit)
            except RestError as e:
                # The resync deadline asks again.
                self._counters.inc("snapshot_failures", PROVIDER)
                log.warning("binance: depth of %s failed: %s", book.symbol, e)
                return
            if self.apply_snapshot(book, token, snap):
                return
            token = book.token()

    def apply_snapshot(self, book: TrackedBook, token: SnapshotToken, snap: DepthSnapshot) -> bool:
        """Applies a REST depth snapshot asked for under ``token``.

        Returns False when the snapshot is older than the first buffered diff, so another
        must be fetched; True when it was applied, or dropped because the book moved on.
        """
        if not book.is_current(token):
            self._counters.inc("snapshots_discarded", PROVIDER, book.canonical)
            return True
        try:
            outcome = book.asm.on_snapshot(snap.last_update_id, snap.bids, snap.asks)
        except MALFORMED as e:
            self._counters.inc("snapshot_failures", PROVIDER)
            log.warning("binance: depth of %s refused: %s", book.symbol, e)
            return True
        if outcome == "stale":
            # Older than the first buffered diff, or than the live book on a refresh (which
            # lost the race with live diffs: the book keeps being served).
            self._counters.inc("snapshot_refetches", PROVIDER, book.canonical)
            return book.status == "synced"
        self.on_book_outcome(
            book,
            outcome,
            snapshot=True,
            bids=[],
            asks=[],
            checksum=None,
            exchange_ts=None,
            ingest_ts=time.time_ns(),
            trace_id=new_trace_id(),
        )
        return True

    # ---- incoming ----

    def handle_frame(self, payload: bytes, ingest_ts: int, trace_id: str) -> None:
        # Depth diffs, trades, tickers and candles are read and checked natively; the other
        # frames (serverShutdown, control replies, errors, unknown events) go on below.
        try:
            frame = self._decoder.decode(payload)
        except ValueError as e:
            raise FrameError(str(e)) from e
        if frame is not None:
            event, item, stamp = frame
            if self.on_decoded is not None:
                # No dict of the frame was built: the hook gets what benches read from it.
                fields: dict[str, Any] = {"event": event}
                if stamp is not None:
                    fields["sim_send_ns"] = stamp
                self.on_decoded(fields, trace_id)
            self._market[event](item, ingest_ts, trace_id, payload)
            return
        msg = decode(payload)
        if not isinstance(msg, dict):
            raise FrameError("frame is not a JSON object")
        if self.on_decoded is not None:
            self.on_decoded(msg, trace_id)
        data = msg.get("data", msg) if "stream" in msg else msg
        if not isinstance(data, dict):
            raise FrameError("stream data is not an object")
        kind = data.get("e")
        if kind == "serverShutdown":
            self._counters.inc("server_shutdowns", PROVIDER)
            log.warning("binance: serverShutdown; reconnecting")
            self.disconnect()
        elif "result" in data and "id" in data:
            pass  # the answer to a control request
        elif "code" in data and "msg" in data:
            self._counters.inc("request_errors", PROVIDER)
            log.error("binance: request refused: %s", data)
        else:
            raise FrameError(f"unknown event {kind!r}")

    # -- depth diffs, trades, tickers, candles: events the native decoder checked --
    #
    # What needs Python state stays here: the books and their health, the bookTicker checks,
    # the 24-hour figures, event numbering. A time handed over as a str is one the decoder
    # refused where the adapter reads it only after acting on the event (a diff applied,
    # figures kept): the frame is refused at that point, as it always was.

    def _on_depth(self, item: tuple[Any, ...], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        book = self._books[item[0]]
        if len(item) == 2:
            self.on_book_error(book, raw, trace_id, FrameError(item[1]))
            return
        _, first, final, bids, asks, exchange_ts = item
        try:
            outcome = book.asm.on_diff(first, final, bids, asks)
        except MALFORMED as e:
            self.on_book_error(book, raw, trace_id, e)
            return
        if outcome == "buffered":
            # Binance's step 3: the snapshot is fetched once the first diff is buffered.
            if book.symbol not in self._fetching:
                self.request_snapshot(book, book.token())
            return
        if exchange_ts.__class__ is str:
            raise FrameError(exchange_ts)
        self.on_book_outcome(
            book,
            outcome,
            snapshot=False,
            bids=bids,
            asks=asks,
            checksum=None,
            exchange_ts=exchange_ts,
            ingest_ts=ingest_ts,
            trace_id=trace_id,
        )
        if outcome == "applied" and self._bbo_id.get(book.symbol) == final:
            # The bookTicker of this update id came first.
            self._check_bbo(book, self._bbo[book.symbol], trace_id)

    def _on_trade(self, item: tuple[Any, ...], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        symbol, trade_id, price, qty, side, exchange_ts = item
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
                trade_id=trade_id,
            )
        )

    def _on_book_ticker(
        self, item: tuple[Any, ...], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        symbol, update_id, bid, bid_qty, ask, ask_qty = item
        book = self._books[symbol]
        bbo = (bid, bid_qty, ask, ask_qty)
        self._bbo[symbol] = bbo
        self._bbo_id[symbol] = update_id
        if book.asm.last_update_id == update_id:
            self._check_bbo(book, bbo, trace_id)
        self._publish_ticker(book, bbo, None, ingest_ts, trace_id)

    def _check_bbo(self, book: TrackedBook, bbo: tuple[str, str, str, str], trace_id: str) -> None:
        """A bookTicker's ``u`` is in the depth diffs' id space: at that id our book must show
        its best bid and ask. An independent check of the assembled book, free of charge."""
        if book.status != "synced":
            return
        self._counters.inc("bbo_checked", PROVIDER)
        if not _same_bbo(book, bbo):
            self._counters.inc("bbo_mismatches", PROVIDER, book.canonical)
            self.resync(book, "checksum", trace_id)

    def _on_ticker_24h(
        self, item: tuple[Any, ...], ingest_ts: int, trace_id: str, raw: bytes
    ) -> None:
        symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low, high, ch, pct, ts = item
        book = self._books[symbol]
        # Kept before the time is read: every later ticker of the symbol repeats these figures.
        self._stats_24h[symbol] = {
            "last": last,
            "volume": volume,
            "vwap": vwap,
            "low": low,
            "high": high,
            "change": ch,
            "change_pct": pct,
        }
        if symbol not in self._bbo or "bookTicker" not in self.config.channels:
            self._bbo[symbol] = (bid, bid_qty, ask, ask_qty)
        if ts.__class__ is str:
            raise FrameError(ts)
        self._publish_ticker(book, self._bbo[symbol], ts, ingest_ts, trace_id)

    def _publish_ticker(
        self,
        book: TrackedBook,
        bbo: tuple[str, str, str, str],
        exchange_ts: int | None,
        ingest_ts: int,
        trace_id: str,
    ) -> None:
        stats = self._stats_24h.get(book.symbol)
        self.publish(
            Ticker(
                **self.event_fields(
                    book.symbol, book.canonical, "Ticker", exchange_ts, ingest_ts, trace_id
                ),
                bid=bbo[0],
                bid_qty=bbo[1],
                ask=bbo[2],
                ask_qty=bbo[3],
                **(stats or {}),
            )
        )

    def _on_kline(self, item: tuple[Any, ...], ingest_ts: int, trace_id: str, raw: bytes) -> None:
        symbol, exchange_ts, interval_s, open_ts, open_, high, low, close, volume, n, closed = item
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
                interval_s=interval_s,
                open_ts=open_ts,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume,
                trades=n,
                closed=closed,
            )
        )


def _same_bbo(book: TrackedBook, bbo: tuple[str, str, str, str]) -> bool:
    ob = book.asm.book
    bid, ask = ob.best_bid(), ob.best_ask()
    if bid is None or ask is None:
        return False
    mine = (*bid, *ask)
    return all(_norm(a) == _norm(b) for a, b in zip(mine, bbo, strict=True))


def _norm(text: str) -> str:
    """Decimal text without trailing fractional zeros (``25.35190000`` → ``25.3519``)."""
    return text.rstrip("0").rstrip(".") if "." in text else text
