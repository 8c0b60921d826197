"""Kraken v2 rendering of market steps and snapshots: book, trade, ticker, ohlc, instrument.

Subscriptions are made under v2 symbols and kept in the common index under the market's pair
names. Book updates carry each depth's diff with its levels in no particular order (a seeded
shuffle per pair, as the venue's own order follows no rule a client could rely on), so a
client must apply the whole message before truncating to its depth and checking the checksum.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import cast

from tradegw.sim.feed import MarketFeed
from tradegw.sim.kraken.checksum import BookChecksum
from tradegw.sim.kraken.pairs import AssetInfo, PairInfo
from tradegw.sim.kraken.wire import (
    BookFrame,
    book_frame,
    channel_frame,
    float_text,
    ohlc_frame,
    trade_entry,
)
from tradegw.sim.market import NS_PER_MINUTE, Market, PairState, StepResult, Trade
from tradegw.sim.stats import SimStats
from tradegw.sim.subscriptions import StreamKey, Subscriber, fan_out
from tradegw.sim.wire import (
    DataFrame,
    Level,
    Num,
    div_round,
    dumps,
    fixed,
    jstr,
    rfc3339_ns,
    rfc3339_us,
)
from tradegw.sim.wire import now_ns as wall_ns

_MAX_FAST_SHUFFLE = 20
"""20! < 2**64: one 64-bit draw orders up to twenty levels."""


class _PairWire:
    """Per-pair constants of the frames, the level shuffler and the checksum."""

    __slots__ = ("checksum", "order", "pp", "qp", "symbol", "symbol_json")

    def __init__(self, pair: PairInfo, state: PairState, seed: int) -> None:
        self.symbol = pair.symbol
        self.symbol_json = jstr(pair.symbol)
        self.pp = pair.price_precision
        self.qp = pair.qty_precision
        self.order = random.Random(f"{seed}:kraken-level-order:{pair.symbol}")
        self.checksum = BookChecksum(state)


def shuffle_levels(levels: list[Level], rng: random.Random) -> None:
    """Put ``levels`` in a seeded random order, in place.

    Fisher-Yates driven by one 64-bit draw split in mixed radix (``random.shuffle`` draws once
    per element, which costs more than building the frame); long lists use ``rng.shuffle``.
    """
    n = len(levels)
    if n < 2:
        return
    if n > _MAX_FAST_SHUFFLE:
        rng.shuffle(levels)
        return
    draw = rng.getrandbits(64)
    for i in range(n - 1, 0, -1):
        draw, j = divmod(draw, i + 1)
        levels[i], levels[j] = levels[j], levels[i]


class KrakenFeed(MarketFeed):
    """Kraken's subscriptions and frames over the common market."""

    def __init__(
        self,
        market: Market,
        stats: SimStats,
        pairs: Sequence[PairInfo],
        assets: Sequence[AssetInfo],
        seed: int,
    ) -> None:
        super().__init__(market, stats)
        self._names = {p.symbol: p.instrument.name for p in pairs}
        self._wire = {
            p.instrument.name: _PairWire(p, market.state(p.instrument.name), seed) for p in pairs
        }
        self.instrument_snapshot = instrument_frame(pairs, assets)

    def has(self, symbol: str) -> bool:
        """Whether ``symbol`` is a v2 symbol of this venue."""
        return symbol in self._names

    def checksum(self, name: str) -> int:
        """The checksum of pair ``name``'s book now."""
        return self._wire[name].checksum.value()

    # ------------------------------------------------------------------ subscriptions

    def subscribe(
        self, sub: Subscriber, channel: str, symbol: str, key: StreamKey, snapshot: bool
    ) -> None:
        """Add ``sub`` to a stream of v2 ``symbol`` and, if asked, send it the snapshot."""
        name = self._names[symbol]
        if channel == "ohlc":
            assert isinstance(key, int)
            self.market.track_interval(key)
        self.subscriptions.add(sub, channel, name, key)
        if snapshot:
            sub.deliver(self.snapshot(channel, symbol, key))

    def unsubscribe(self, sub: Subscriber, channel: str, symbol: str, key: StreamKey) -> None:
        """Remove ``sub`` from a stream (no-op when it is not subscribed)."""
        self.subscriptions.remove(sub, channel, self._names[symbol], key)

    # ------------------------------------------------------------------ publishing

    def depths(self, name: str) -> Iterable[int]:
        """The subscribed book depths of pair ``name`` (book streams are keyed by depth)."""
        books = self.subscriptions.table.get(("book", name))
        return cast("Iterable[int]", books.keys()) if books else ()

    def publish(self, name: str, result: StepResult, now_ns: int) -> int:
        """Book updates per subscribed depth, trades, and the tickers and candles they move."""
        table = self.subscriptions.table
        built = 0
        books = table.get(("book", name))
        if books:
            wire = self._wire[name]
            # Unobserved steps (no book subscriber) cost nothing: the checksum notices them.
            checksum = wire.checksum
            checksum.observe(result)
        if result.depth_diffs and books:
            crc = checksum.value()
            ts = rfc3339_us(now_ns)
            order = wire.order
            last: tuple[list[Level], list[Level], BookFrame] | None = None
            for depth, bids, asks in result.depth_diffs:
                # Depths often get the same diff (a change well inside the shallower view):
                # such depths share one frame.
                if last is None or bids != last[0] or asks != last[1]:
                    unshuffled = (bids.copy(), asks.copy())
                    if len(bids) > 1:
                        shuffle_levels(bids, order)
                    if len(asks) > 1:
                        shuffle_levels(asks, order)
                    data = book_frame(
                        "update", wire.symbol_json, bids, asks, wire.pp, wire.qp, crc, ts
                    )
                    last = (*unshuffled, BookFrame(wire.symbol, data, crc, result.top_changed))
                built += fan_out(books[depth], last[2])
        if result.trades:
            built += self._publish_trades(name, result.trades, now_ns)
        if result.bbo_changed:
            tickers = table.get(("ticker", name))
            if tickers and "bbo" in tickers:
                built += fan_out(tickers["bbo"], self._ticker(name, "update", now_ns))
        return built

    def _publish_trades(self, name: str, trades: list[Trade], now_ns: int) -> int:
        table = self.subscriptions.table
        built = 0
        streams = table.get(("trade", name))
        if streams:
            wire = self._wire[name]
            frame = DataFrame("trade", wire.symbol, self._trade_frame(name, "update", trades))
            built += fan_out(streams[None], frame)
        tickers = table.get(("ticker", name))
        if tickers and "trades" in tickers:
            built += fan_out(tickers["trades"], self._ticker(name, "update", now_ns))
        candles = table.get(("ohlc", name))
        if candles:
            for interval, subscribers in candles.items():
                assert isinstance(interval, int)
                built += fan_out(subscribers, self._ohlc(name, interval, "update", now_ns))
        return built

    # ------------------------------------------------------------------ frames

    def snapshot(self, channel: str, symbol: str, key: StreamKey) -> DataFrame:
        """The snapshot frame of one stream of v2 ``symbol``, from the market's state now."""
        name = self._names[symbol]
        now = wall_ns()
        if channel == "book":
            assert isinstance(key, int)
            wire = self._wire[name]
            bids, asks = self.market.top(name, key)
            crc = self.checksum(name)
            data = book_frame(
                "snapshot", wire.symbol_json, bids, asks, wire.pp, wire.qp, crc, rfc3339_us(now)
            )
            return BookFrame(symbol, data, crc, False)
        if channel == "trade":
            trades = list(self.market.state(name).trades)
            return DataFrame("trade", symbol, self._trade_frame(name, "snapshot", trades))
        if channel == "ticker":
            return self._ticker(name, "snapshot", now)
        assert isinstance(key, int)
        return self._ohlc(name, key, "snapshot", now)

    def _trade_frame(self, name: str, kind: str, trades: Sequence[Trade]) -> bytes:
        wire = self._wire[name]
        entries = [
            trade_entry(
                wire.symbol_json,
                t.side,
                fixed(t.price, wire.pp),
                fixed(t.qty, wire.qp),
                t.ord_type,
                t.trade_id,
                rfc3339_us(t.ts_ns),
            )
            for t in trades
        ]
        return channel_frame("trade", kind, entries)

    def _ticker(self, name: str, kind: str, now_ns: int) -> DataFrame:
        wire = self._wire[name]
        st = self.market.state(name)
        (bid, bid_qty), (ask, ask_qty) = self.market.best(name)
        session = st.session
        pp, qp = wire.pp, wire.qp
        vwap = div_round(session.notional, session.volume) if session.volume else st.last_price
        change = st.last_price - session.open
        change_pct = div_round(change * 10_000, session.open)  # percent with 2 decimals
        entry = (
            f'{{"symbol":{wire.symbol_json},"bid":{fixed(bid, pp)},'
            f'"bid_qty":{fixed(bid_qty, qp)},"ask":{fixed(ask, pp)},'
            f'"ask_qty":{fixed(ask_qty, qp)},"last":{fixed(st.last_price, pp)},'
            f'"volume":{fixed(session.volume, qp)},"vwap":{fixed(vwap, pp)},'
            f'"low":{fixed(session.low, pp)},"high":{fixed(session.high, pp)},'
            f'"change":{fixed(change, pp)},"change_pct":{fixed(change_pct, 2)},'
            f'"timestamp":"{rfc3339_us(now_ns)}"}}'
        )
        return DataFrame("ticker", wire.symbol, channel_frame("ticker", kind, (entry,)))

    def _ohlc(self, name: str, interval: int, kind: str, now_ns: int) -> DataFrame:
        wire = self._wire[name]
        candle = self.market.candle(name, interval, now_ns)
        pp, qp = wire.pp, wire.qp
        vwap = div_round(candle.notional, candle.volume) if candle.volume else candle.close
        end = candle.begin_ns + interval * NS_PER_MINUTE
        entry = (
            f'{{"symbol":{wire.symbol_json},"open":{fixed(candle.open, pp)},'
            f'"high":{fixed(candle.high, pp)},"low":{fixed(candle.low, pp)},'
            f'"close":{fixed(candle.close, pp)},"trades":{candle.trades},'
            f'"volume":{fixed(candle.volume, qp)},"vwap":{fixed(vwap, pp)},'
            f'"interval_begin":"{rfc3339_ns(candle.begin_ns)}","interval":{interval},'
            f'"timestamp":"{rfc3339_us(end)}"}}'
        )
        return DataFrame("ohlc", wire.symbol, ohlc_frame(kind, (entry,), rfc3339_ns(now_ns)))


_MAJOR_ASSETS = frozenset({"USD", "EUR", "BTC", "ETH", "USDT"})


def _float(value: int, precision: int) -> Num:
    return Num(float_text(value, precision))


def instrument_frame(pairs: Sequence[PairInfo], assets: Sequence[AssetInfo]) -> bytes:
    """The ``instrument`` snapshot: reference data of every asset and pair, fields in the
    venue's order and its numbers written as the venue writes them (``1e-08``)."""
    asset_objs = [
        {
            "id": a.name,
            "status": "enabled",
            "precision": a.decimals,
            "precision_display": a.display_decimals,
            "borrowable": a.name in _MAJOR_ASSETS,
            "collateral_value": _float(1 if a.name in _MAJOR_ASSETS else 0, 0),
            "class": "currency",
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
            "qty_increment": _float(1, p.qty_precision),
            "price_precision": p.price_precision,
            "cost_precision": p.cost_precision,
            "marginable": p.marginable,
            "has_index": True,
            "ws_display_price_precision": p.price_precision,
            "cost_min": _float(p.cost_min, p.cost_precision),
        }
        if p.marginable:
            obj["margin_initial"] = _float(2, 1)
            obj["position_limit_long"] = 250
            obj["position_limit_short"] = 200
        obj["tick_size"] = _float(1, p.price_precision)
        obj["price_increment"] = _float(1, p.price_precision)
        obj["qty_min"] = _float(p.qty_min, p.qty_precision)
        pair_objs.append(obj)
    body = {
        "channel": "instrument",
        "type": "snapshot",
        "data": {"assets": asset_objs, "pairs": pair_objs},
    }
    return dumps(body).encode()
