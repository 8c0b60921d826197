"""Who is subscribed to what, and turning market steps into the frames they receive.

A frame is built once per stream (say ``book`` of ``BTC/USD`` at depth 25) and handed to every
subscriber of that stream; subscribers decide per connection what actually goes out (stalls,
faults, time stamps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, cast

from tradegw.sim.kraken.market import NS_PER_MINUTE, Candle, Market, PairState, Trade
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.kraken.stats import SimStats
from tradegw.sim.kraken.wire import (
    DataFrame,
    Num,
    book_frame,
    channel_frame,
    div_round,
    dumps,
    jstr,
    num,
    ohlc_frame,
    rfc3339_ns,
    rfc3339_us,
    trade_entry,
)
from tradegw.sim.kraken.wire import now_ns as wall_ns

StreamKey = int | str | None
"""Book depth, ticker event trigger, ohlc interval, or None for trades."""


class Subscriber(Protocol):
    """A connection as the feed sees it."""

    def deliver(self, frame: DataFrame) -> None:
        """Send a data frame (subject to the connection's state and injected faults)."""


class _PairText:
    """Per-pair constants of the frames, computed once."""

    __slots__ = ("pp", "qp", "symbol")

    def __init__(self, info: PairInfo) -> None:
        self.symbol = jstr(info.symbol)
        self.pp = info.price_precision
        self.qp = info.qty_precision


class Feed:
    """Subscription index plus publishing of market steps and snapshots."""

    def __init__(
        self,
        market: Market,
        pairs: Sequence[PairInfo],
        assets: Sequence[AssetInfo],
        stats: SimStats,
    ) -> None:
        self.market = market
        self.stats = stats
        self._order = [p.symbol for p in pairs]
        self._text = {p.symbol: _PairText(p) for p in pairs}
        # (channel, symbol) -> stream key -> subscribers (a dict keeps insertion order)
        self._subs: dict[tuple[str, str], dict[StreamKey, dict[Subscriber, None]]] = {}
        self.active: list[str] = []
        """Symbols with at least one subscriber, in pair order: the ones the driver steps."""
        self.instrument_snapshot = instrument_frame(pairs, assets)

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` is a pair of this venue."""
        return symbol in self._text

    # ------------------------------------------------------------------ subscriptions

    def subscribe(
        self, sub: Subscriber, channel: str, symbol: str, key: StreamKey, snapshot: bool
    ) -> None:
        """Add ``sub`` to a stream and, if asked, send it the stream's snapshot."""
        if channel == "ohlc":
            assert isinstance(key, int)
            self.market.track_interval(key)
        self._subs.setdefault((channel, symbol), {}).setdefault(key, {})[sub] = None
        self._refresh_active()
        if snapshot:
            sub.deliver(self.snapshot(channel, symbol, key))

    def unsubscribe(self, sub: Subscriber, channel: str, symbol: str, key: StreamKey) -> None:
        """Remove ``sub`` from a stream (no-op when it is not subscribed)."""
        streams = self._subs.get((channel, symbol))
        if streams is None or key not in streams:
            return
        streams[key].pop(sub, None)
        # Empty entries must go: the market computes a diff for every depth listed here.
        if not streams[key]:
            del streams[key]
        if not streams:
            del self._subs[(channel, symbol)]
        self._refresh_active()

    def _refresh_active(self) -> None:
        channels = ("book", "trade", "ticker", "ohlc")
        self.active = [s for s in self._order if any((c, s) in self._subs for c in channels)]

    # ------------------------------------------------------------------ publishing

    def step(self, symbol: str, now_ns: int) -> int:
        """Advance ``symbol`` one market event and publish it; returns frames built."""
        subs = self._subs
        books = subs.get(("book", symbol))
        # Book streams are keyed by depth (an int).
        depths = cast("Iterable[int]", books.keys()) if books else ()
        result = self.market.step(symbol, depths, now_ns)
        self.stats.steps += 1
        built = 0
        if result.books and books:
            text = self._text[symbol]
            ts = rfc3339_us(now_ns)
            for depth, bids, asks in result.books:
                data = book_frame(
                    "update", text.symbol, bids, asks, text.pp, text.qp, result.checksum, ts
                )
                frame = DataFrame("book", symbol, data, result.checksum, True, result.top_changed)
                built += self._fan_out(books[depth], frame)
        if result.trades:
            built += self._publish_trades(symbol, result.trades, now_ns)
        if result.bbo_changed:
            tickers = subs.get(("ticker", symbol))
            if tickers and "bbo" in tickers:
                built += self._fan_out(tickers["bbo"], self._ticker(symbol, "update", now_ns))
        self.stats.frames_built += built
        return built

    def _publish_trades(self, symbol: str, trades: list[Trade], now_ns: int) -> int:
        built = 0
        streams = self._subs.get(("trade", symbol))
        if streams:
            frame = DataFrame("trade", symbol, self._trade_frame(symbol, "update", trades))
            built += self._fan_out(streams[None], frame)
        tickers = self._subs.get(("ticker", symbol))
        if tickers and "trades" in tickers:
            built += self._fan_out(tickers["trades"], self._ticker(symbol, "update", now_ns))
        candles = self._subs.get(("ohlc", symbol))
        if candles:
            for interval, subscribers in candles.items():
                assert isinstance(interval, int)
                frame = self._ohlc(symbol, interval, "update", now_ns)
                built += self._fan_out(subscribers, frame)
        return built

    @staticmethod
    def _fan_out(subscribers: dict[Subscriber, None], frame: DataFrame) -> int:
        for sub in tuple(subscribers):
            sub.deliver(frame)
        return 1

    # ------------------------------------------------------------------ frames

    def snapshot(self, channel: str, symbol: str, key: StreamKey) -> DataFrame:
        """The snapshot frame of one stream, from the market's current state."""
        now = wall_ns()
        if channel == "book":
            assert isinstance(key, int)
            text = self._text[symbol]
            bids, asks = self.market.top(symbol, key)
            crc = self.market.checksum(symbol)
            data = book_frame(
                "snapshot", text.symbol, bids, asks, text.pp, text.qp, crc, rfc3339_us(now)
            )
            return DataFrame("book", symbol, data, crc)
        if channel == "trade":
            trades = list(self.market.state(symbol).trades)
            return DataFrame("trade", symbol, self._trade_frame(symbol, "snapshot", trades))
        if channel == "ticker":
            return self._ticker(symbol, "snapshot", now)
        assert isinstance(key, int)
        return self._ohlc(symbol, key, "snapshot", now)

    def _trade_frame(self, symbol: str, kind: str, trades: Sequence[Trade]) -> bytes:
        text = self._text[symbol]
        entries = [
            trade_entry(
                text.symbol,
                t.side,
                num(t.price, text.pp),
                num(t.qty, text.qp),
                t.ord_type,
                t.trade_id,
                rfc3339_us(t.ts_ns),
            )
            for t in trades
        ]
        return channel_frame("trade", kind, entries)

    def _ticker(self, symbol: str, kind: str, now_ns: int) -> DataFrame:
        text = self._text[symbol]
        st: PairState = self.market.state(symbol)
        (bid, bid_qty), (ask, ask_qty) = self.market.best(symbol)
        session = st.session
        pp, qp = text.pp, text.qp
        vwap = div_round(session.notional, session.volume) if session.volume else st.last_price
        change = st.last_price - session.open
        change_pct = div_round(change * 10_000, session.open)  # percent with 2 decimals
        entry = (
            f'{{"symbol":{text.symbol},"bid":{num(bid, pp)},"bid_qty":{num(bid_qty, qp)},'
            f'"ask":{num(ask, pp)},"ask_qty":{num(ask_qty, qp)},"last":{num(st.last_price, pp)},'
            f'"volume":{num(session.volume, qp)},"vwap":{num(vwap, pp)},'
            f'"low":{num(session.low, pp)},"high":{num(session.high, pp)},'
            f'"change":{num(change, pp)},"change_pct":{num(change_pct, 2)},'
            f'"timestamp":"{rfc3339_us(now_ns)}"}}'
        )
        return DataFrame("ticker", symbol, channel_frame("ticker", kind, (entry,)))

    def _ohlc(self, symbol: str, interval: int, kind: str, now_ns: int) -> DataFrame:
        text = self._text[symbol]
        candle: Candle = self.market.candle(symbol, interval, now_ns)
        pp, qp = text.pp, text.qp
        vwap = div_round(candle.notional, candle.volume) if candle.volume else candle.close
        end = candle.begin_ns + interval * NS_PER_MINUTE
        entry = (
            f'{{"symbol":{text.symbol},"open":{num(candle.open, pp)},'
            f'"high":{num(candle.high, pp)},"low":{num(candle.low, pp)},'
            f'"close":{num(candle.close, pp)},"trades":{candle.trades},'
            f'"volume":{num(candle.volume, qp)},"vwap":{num(vwap, pp)},'
            f'"interval_begin":"{rfc3339_ns(candle.begin_ns)}","interval":{interval},'
            f'"timestamp":"{rfc3339_us(end)}"}}'
        )
        return DataFrame("ohlc", symbol, ohlc_frame(kind, (entry,), rfc3339_ns(now_ns)))


_MAJOR_ASSETS = frozenset({"USD", "EUR", "BTC", "ETH", "USDT"})


def instrument_frame(pairs: Sequence[PairInfo], assets: Sequence[AssetInfo]) -> bytes:
    """The ``instrument`` snapshot: reference data of every asset and pair."""
    asset_objs = [
        {
            "id": a.name,
            "status": "enabled",
            "precision": a.decimals,
            "precision_display": a.display_decimals,
            "borrowable": a.name in _MAJOR_ASSETS,
            "collateral_value": Num("1" if a.name in _MAJOR_ASSETS else "0"),
        }
        for a in assets
    ]
    pair_objs: list[dict[str, object]] = []
    for p in pairs:
        obj: dict[str, object] = {
            "symbol": p.symbol,
            "base": p.base,
            "quote": p.quote,
            "status": "online",
            "qty_precision": p.qty_precision,
            "qty_increment": Num.fixed(1, p.qty_precision),
            "price_precision": p.price_precision,
            "cost_precision": p.cost_precision,
            "marginable": p.marginable,
            "has_index": True,
            "cost_min": Num.fixed(p.cost_min, p.cost_precision),
        }
        if p.marginable:
            obj["margin_initial"] = Num("0.2")
            obj["position_limit_long"] = 250
            obj["position_limit_short"] = 200
        obj["tick_size"] = Num.fixed(1, p.price_precision)
        obj["price_increment"] = Num.fixed(1, p.price_precision)
        obj["qty_min"] = Num.fixed(p.qty_min, p.qty_precision)
        pair_objs.append(obj)
    body = {
        "channel": "instrument",
        "type": "snapshot",
        "data": {"assets": asset_objs, "pairs": pair_objs},
    }
    return dumps(body).encode()
