"""Binance rendering of the market: diff and partial depth, trades, aggregate trades,
bookTicker, klines and the 24 h ticker, raw or combined.

What is sent per market step and what on the clock, as on the venue:

* per step: ``bookTicker`` (when the best bid or offer changed; its ``u`` is the book update id
  after the step), ``trade`` and ``aggTrade`` (one per fill);
* on the clock (:meth:`BinanceFeed.tick`, every 100 ms): ``@depth@100ms`` every tick and
  ``@depth`` every second - each the steps of its interval merged into one event per symbol,
  a price changed twice carrying its last quantity, ``U`` the first merged update id and ``u``
  the last, so consecutive events of a stream are contiguous (``U == previous u + 1``);
  partial depth ``@depth<N>[@100ms]`` at its speed, ``@ticker`` every second, ``@kline_<i>``
  every two seconds when the candle changed (and once more, ``"x":true``, when it closed).

A step merged into a depth event counts as one data message for the driver's pacing, so
``rate`` is the rate of book updates whatever the depth speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tradegw.sim.binance.streams import KLINE_MINUTES, StreamSpec
from tradegw.sim.binance.symbols import SymbolInfo
from tradegw.sim.binance.wire import (
    DepthFrame,
    StreamFrame,
    agg_trade_event,
    amount,
    book_ticker,
    depth_event,
    ms,
    partial_depth,
    trade_event,
)
from tradegw.sim.feed import MarketFeed
from tradegw.sim.market import NS_PER_MINUTE, Candle, Market, StepResult, Trade
from tradegw.sim.stats import SimStats
from tradegw.sim.subscriptions import Subscriber, fan_out
from tradegw.sim.wire import div_round, dumps, fixed

TICK_S = 0.1
"""The feed's clock: the fastest stream speed (100 ms)."""
_TICKS_PER_SECOND = 10
_KLINE_TICKS = 20
"""Klines are pushed every two seconds."""
_DAY_MS = 86_400_000


class _Pair:
    """Per-pair constants: names and precisions, stream names built once."""

    __slots__ = ("info", "names", "pp", "qp", "stream", "symbol")

    def __init__(self, info: SymbolInfo) -> None:
        self.info = info
        self.symbol = info.symbol
        self.stream = info.stream
        self.pp, self.qp = info.precisions
        self.names: dict[str, str] = {}

    def name(self, suffix: str) -> str:
        """The full stream name of a suffix (``btcusdt@depth@100ms``)."""
        full = self.names.get(suffix)
        if full is None:
            full = self.names[suffix] = f"{self.stream}@{suffix}"
        return full


@dataclass(slots=True)
class _DepthBuffer:
    """The steps of one depth interval of one pair, merged."""

    first_id: int = 0
    """0 while empty (update ids of changes start at 1)."""
    final_id: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def add(self, result: StepResult) -> None:
        if not self.first_id:
            self.first_id = result.update_id
        self.final_id = result.update_id
        bids, asks = self.bids, self.asks
        for price, qty in result.bids:
            bids[price] = qty
        for price, qty in result.asks:
            asks[price] = qty


@dataclass(slots=True)
class _KlineSent:
    """What was last pushed of one kline stream."""

    candle: Candle
    signature: tuple[int, int, bool]
    """``(begin, trades, closed)`` of the candle as pushed."""


class BinanceFeed(MarketFeed):
    """Binance's streams over the common market; subscriptions are keyed by the market's
    pair names, channels and keys of :class:`tradegw.sim.binance.streams.StreamSpec`."""

    def __init__(self, market: Market, stats: SimStats, symbols: list[SymbolInfo]) -> None:
        super().__init__(market, stats)
        self._pairs = {s.instrument.name: _Pair(s) for s in symbols}
        self._by_stream = {s.stream: s.instrument.name for s in symbols}
        self._depth: dict[tuple[str, str], _DepthBuffer] = {}
        self._kline_minutes: set[int] = set()
        self._taker: dict[tuple[str, int], list[int]] = {}
        """``(pair, minutes)`` -> ``[candle begin, taker-buy qty, taker-buy notional]``."""
        self._klines: dict[tuple[str, str], _KlineSent] = {}

    # ------------------------------------------------------------------ subscriptions

    def listed(self, spec: StreamSpec) -> bool:
        """Whether the stream's symbol is one this venue lists."""
        return spec.symbol in self._by_stream

    def subscribe(self, sub: Subscriber, spec: StreamSpec) -> None:
        """Add ``sub`` to a stream (a stream of a symbol not listed carries nothing)."""
        name = self._by_stream.get(spec.symbol)
        if name is None:
            return
        if spec.channel == "kline":
            minutes = KLINE_MINUTES[str(spec.key)]
            self.market.track_interval(minutes)
            self._kline_minutes.add(minutes)
        self.subscriptions.add(sub, spec.channel, name, spec.key)

    def unsubscribe(self, sub: Subscriber, spec: StreamSpec) -> None:
        """Remove ``sub`` from a stream (no-op when it is not subscribed)."""
        name = self._by_stream.get(spec.symbol)
        if name is None:
            return
        self.subscriptions.remove(sub, spec.channel, name, spec.key)
        streams = self.subscriptions.table.get((spec.channel, name))
        if streams is None or spec.key not in streams:
            # Nobody left: what was merged so far must not reach a later subscriber as if
            # no step had been missed in between.
            self._depth.pop((name, str(spec.key)), None)
            self._klines.pop((name, str(spec.key)), None)

    # ------------------------------------------------------------------ per step

    def publish(self, name: str, result: StepResult, now_ns: int) -> int:
        """Merge the step into the pair's depth buffers; send bookTicker, trades, aggTrades."""
        table = self.subscriptions.table
        built = 0
        if result.book_changed:
            depth = table.get(("depth", name))
            if depth:
                buffers = self._depth
                for speed in depth:
                    key = (name, str(speed))
                    buf = buffers.get(key)
                    if buf is None:
                        buf = buffers[key] = _DepthBuffer()
                    buf.add(result)
                built += 1
            if result.bbo_changed:
                tickers = table.get(("bookTicker", name))
                if tickers:
                    built += fan_out(tickers[None], self._book_ticker(name, result.update_id))
        if result.trades:
            if self._kline_minutes:
                self._note_taker_buys(name, result.trades)
            built += self._publish_trades(name, result.trades, now_ns)
        return built

    def _book_ticker(self, name: str, update_id: int) -> StreamFrame:
        pair = self._pairs[name]
        (bid, bid_qty), (ask, ask_qty) = self.market.best(name)
        pp, qp = pair.pp, pair.qp
        data = book_ticker(
            update_id,
            pair.symbol,
            amount(bid, pp),
            amount(bid_qty, qp),
            amount(ask, pp),
            amount(ask_qty, qp),
        )
        return StreamFrame("bookTicker", pair.symbol, pair.name("bookTicker"), data)

    def _publish_trades(self, name: str, trades: list[Trade], now_ns: int) -> int:
        table = self.subscriptions.table
        pair = self._pairs[name]
        built = 0
        event_ms = ms(now_ns)
        for channel in ("trade", "aggTrade"):
            streams = table.get((channel, name))
            if not streams:
                continue
            stream = pair.name(channel)
            for t in trades:
                price, qty = amount(t.price, pair.pp), amount(t.qty, pair.qp)
                # m: the buyer was the maker, so the taker sold.
                maker_buys = t.side == "sell"
                if channel == "trade":
                    data = trade_event(
                        pair.symbol, event_ms, t.trade_id, price, qty, ms(t.ts_ns), maker_buys
                    )
                else:
                    # Each fill is its own aggregate (a sweep fills at several prices): the
                    # aggregate id is the fill's id.
                    data = agg_trade_event(
                        pair.symbol,
                        event_ms,
                        t.trade_id,
                        price,
                        qty,
                        t.trade_id,
                        t.trade_id,
                        ms(t.ts_ns),
                        maker_buys,
                    )
                built += fan_out(streams[None], StreamFrame(channel, pair.symbol, stream, data))
        return built

    def _note_taker_buys(self, name: str, trades: list[Trade]) -> None:
        """Kline ``V``/``Q`` (taker-buy volumes), kept per tracked interval like the candles
        the market keeps from the moment an interval is first subscribed."""
        for minutes in self._kline_minutes:
            span = minutes * NS_PER_MINUTE
            for t in trades:
                begin = t.ts_ns - t.ts_ns % span
                entry = self._taker.get((name, minutes))
                if entry is None or entry[0] != begin:
                    entry = self._taker[(name, minutes)] = [begin, 0, 0]
                if t.side == "buy":
                    entry[1] += t.qty
                    entry[2] += t.price * t.qty

    # ------------------------------------------------------------------ on the clock

    def tick(self, count: int, now_ns: int) -> int:
        """Clock tick number ``count`` (every 100 ms): send what is due; returns frames built."""
        built = self.flush_depth("100ms", now_ns)
        built += self._partial_depth("100ms", now_ns)
        if count % _TICKS_PER_SECOND == 0:
            built += self.flush_depth("1000ms", now_ns)
            built += self._partial_depth("1000ms", now_ns)
            built += self._tickers(now_ns)
        if count % _KLINE_TICKS == 0:
            built += self._push_klines(now_ns)
        self.stats.frames_built += built
        return built

    def flush_depth(self, speed: str, now_ns: int) -> int:
        """Send the merged diff depth events of ``speed`` (``100ms``/``1000ms``) now."""
        table = self.subscriptions.table
        built = 0
        event_ms = ms(now_ns)
        for key, buf in list(self._depth.items()):
            name, buffered_speed = key
            if buffered_speed != speed or not buf.first_id:
                continue
            subscribers = table.get(("depth", name), {}).get(speed)
            if not subscribers:
                del self._depth[key]
                continue
            pair = self._pairs[name]
            self._depth[key] = _DepthBuffer()
            bids = sorted(buf.bids.items(), reverse=True)
            asks = sorted(buf.asks.items())
            data = depth_event(
                pair.symbol, event_ms, buf.first_id, buf.final_id, bids, asks, pair.pp, pair.qp
            )
            suffix = "depth" if speed == "1000ms" else "depth@100ms"
            frame = DepthFrame(
                pair.symbol, pair.name(suffix), suffix, data, buf.first_id, buf.final_id
            )
            built += fan_out(subscribers, frame)
        return built

    def _partial_depth(self, speed: str, now_ns: int) -> int:
        built = 0
        for (channel, name), streams in list(self.subscriptions.table.items()):
            if channel == "depth" or not channel.startswith("depth"):
                continue
            subscribers = streams.get(speed)
            if not subscribers:
                continue
            pair = self._pairs[name]
            bids, asks = self.market.top(name, int(channel[len("depth") :]))
            data = partial_depth(self.market.update_id(name), bids, asks, pair.pp, pair.qp)
            suffix = channel if speed == "1000ms" else f"{channel}@{speed}"
            frame = StreamFrame(suffix, pair.symbol, pair.name(suffix), data)
            built += fan_out(subscribers, frame)
        return built

    def _tickers(self, now_ns: int) -> int:
        built = 0
        for (channel, name), streams in list(self.subscriptions.table.items()):
            if channel == "ticker" and None in streams:
                built += fan_out(streams[None], self._ticker(name, now_ns))
        return built

    def _ticker(self, name: str, now_ns: int) -> StreamFrame:
        """The 24 h ticker; the run so far stands in for the 24 hour window."""
        pair = self._pairs[name]
        st = self.market.state(name)
        (bid, bid_qty), (ask, ask_qty) = self.market.best(name)
        session, last = st.session, st.last_price
        pp, qp = pair.pp, pair.qp
        change = last - session.open
        vwap = div_round(session.notional, session.volume) if session.volume else last
        last_qty = st.trades[-1].qty if st.trades else 0
        count = session.trades
        last_id = st.next_trade_id - 1 if count else -1
        now = ms(now_ns)
        body = {
            "e": "24hrTicker",
            "E": now,
            "s": pair.symbol,
            "p": amount(change, pp),
            # Percent with three decimals, as the venue writes it.
            "P": fixed(div_round(change * 100_000, session.open), 3),
            "w": amount(vwap, pp),
            "x": amount(session.open, pp),
            "c": amount(last, pp),
            "Q": amount(last_qty, qp),
            "b": amount(bid, pp),
            "B": amount(bid_qty, qp),
            "a": amount(ask, pp),
            "A": amount(ask_qty, qp),
            "o": amount(session.open, pp),
            "h": amount(session.high, pp),
            "l": amount(session.low, pp),
            "v": amount(session.volume, qp),
            "q": amount(session.notional, pp + qp),
            "O": now - _DAY_MS,
            "C": now,
            "F": last_id - count + 1 if count else -1,
            "L": last_id,
            "n": count,
        }
        return StreamFrame("ticker", pair.symbol, pair.name("ticker"), dumps(body).encode())

    def _push_klines(self, now_ns: int) -> int:
        built = 0
        for (channel, name), streams in list(self.subscriptions.table.items()):
            if channel != "kline":
                continue
            for interval, subscribers in streams.items():
                for frame in self._kline_frames(name, str(interval), now_ns):
                    built += fan_out(subscribers, frame)
        return built

    def _kline_frames(self, name: str, interval: str, now_ns: int) -> list[StreamFrame]:
        minutes = KLINE_MINUTES[interval]
        candle = self.market.candle(name, minutes, now_ns)
        st = self.market.state(name)
        # A pair's trade ids are consecutive and the newest candle holds the newest trades.
        last_id = st.next_trade_id - 1
        frames: list[StreamFrame] = []
        sent = self._klines.get((name, interval))
        if (
            sent is not None
            and sent.candle.begin_ns != candle.begin_ns
            and sent.candle.trades
            and not sent.signature[2]
        ):
            # The previous candle closed between two pushes: its final state goes first.
            prev_last = last_id - candle.trades
            frames.append(self._kline(name, interval, sent.candle, prev_last, True, now_ns))
        closed = now_ns >= candle.begin_ns + minutes * NS_PER_MINUTE
        signature = (candle.begin_ns, candle.trades, closed)
        if sent is None or sent.signature != signature or frames:
            frames.append(self._kline(name, interval, candle, last_id, closed, now_ns))
            self._klines[(name, interval)] = _KlineSent(candle, signature)
        return frames

    def _kline(
        self, name: str, interval: str, candle: Candle, last_id: int, closed: bool, now_ns: int
    ) -> StreamFrame:
        pair = self._pairs[name]
        pp, qp = pair.pp, pair.qp
        minutes = KLINE_MINUTES[interval]
        taker = self._taker.get((name, minutes))
        taker_qty, taker_notional = (
            (taker[1], taker[2]) if taker and taker[0] == candle.begin_ns else (0, 0)
        )
        count = candle.trades
        begin = ms(candle.begin_ns)
        body = {
            "e": "kline",
            "E": ms(now_ns),
            "s": pair.symbol,
            "k": {
                "t": begin,
                "T": begin + minutes * 60_000 - 1,
                "s": pair.symbol,
                "i": interval,
                "f": last_id - count + 1 if count else -1,
                "L": last_id if count else -1,
                "o": amount(candle.open, pp),
                "c": amount(candle.close, pp),
                "h": amount(candle.high, pp),
                "l": amount(candle.low, pp),
                "v": amount(candle.volume, qp),
                "n": count,
                "x": closed,
                "q": amount(candle.notional, pp + qp),
                "V": amount(taker_qty, qp),
                "Q": amount(taker_notional, pp + qp),
                "B": "0",
            },
        }
        suffix = f"kline_{interval}"
        return StreamFrame(suffix, pair.symbol, pair.name(suffix), dumps(body).encode())
