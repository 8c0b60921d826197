"""The seeded synthetic market every venue renders: a full L2 book per pair, a random walk,
trades that eat it.

Everything here is fixed-point integers and free of I/O, clocks and wire formats (time is
passed in), so a pair's sequence of book changes and trades is a pure function of the seed and
the number of steps taken on that pair. Each pair draws from its own ``random.Random`` (seeded
from the run seed and the pair's ``BASE/QUOTE``), which keeps a pair's sequence the same whichever
other pairs are subscribed, however steps interleave and whichever venue renders it.

One :meth:`Market.step` yields what every venue needs (:class:`StepResult`):

* the full-book changes: every changed price with its new quantity, 0 = removed (Binance
  ``@depth``, Coinbase ``level2``), and a per-pair book update id that advances on every step
  that changes the book (Binance ``U``/``u``/``lastUpdateId``);
* depth-limited diffs for each depth ``D`` asked for (Kraken v2): the levels that changed
  inside the top ``D``, the levels removed from the book while visible (quantity 0), and the
  levels that entered the top ``D`` from below because better ones went away. A level that is
  merely pushed below ``D`` is never deleted explicitly; the client applies the whole message,
  then truncates to ``D``;
* whether the top ten or the best bid/offer changed, and the trades.

A level set to the quantity it already has is no change at all, so every change reported is
real.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tradegw.sim.instruments import Instrument
from tradegw.sim.wire import Level

TRADE_HISTORY = 50
"""Trades kept per pair for trade snapshots (Kraken sends the last 50)."""

TOP = 10
"""How many levels a side :attr:`StepResult.top_changed` watches (checksums cover ten)."""

NS_PER_MINUTE = 60_000_000_000

# Per-step event mix. Adds slightly outnumber deletes because trades also take levels away.
_P_MODIFY = 0.35
_P_ADD = 0.62
_P_DELETE = 0.75
# The rest (25 %) are trades.
_P_WALK = 0.3
_TOP_SPAN = 25
"""Book edits land within this many levels of the top, where real books churn."""
_TRIM_SLACK = 16
"""A side may grow this far past ``book_levels`` before its worst level is trimmed."""


class BookSide:
    """One side of a full book: price -> qty and the prices sorted ascending."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}
        self.prices: list[int] = []

    def __len__(self) -> int:
        return len(self.prices)

    def set(self, price: int, qty: int, changed: set[int]) -> None:
        """Set a level to ``qty`` (0 removes it); a real change notes the price as changed."""
        levels = self.levels
        old = levels.get(price)
        if qty:
            if old == qty:
                return
            if old is None:
                insort(self.prices, price)
            levels[price] = qty
        elif old is not None:
            del levels[price]
            del self.prices[bisect_left(self.prices, price)]
        else:
            return
        changed.add(price)


@dataclass(slots=True)
class Trade:
    """One fill: ``side`` is the taker's side, ``ord_type`` the taker's order type."""

    side: str
    price: int
    qty: int
    ord_type: str
    trade_id: int
    ts_ns: int


@dataclass(slots=True)
class Candle:
    """A running OHLC candle; ``notional`` is the sum of price*qty at both precisions."""

    begin_ns: int
    open: int
    high: int
    low: int
    close: int
    trades: int = 0
    volume: int = 0
    notional: int = 0

    def add(self, price: int, qty: int) -> None:
        """Fold one fill into the candle."""
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.trades += 1
        self.volume += qty
        self.notional += price * qty


@dataclass(slots=True)
class PairState:
    """The live state of one pair: book, walk, trade history, running statistics."""

    info: Instrument
    rng: random.Random
    fair: int
    bids: BookSide = field(default_factory=lambda: BookSide())
    """Prices ascending, so the best bid is the *last* price."""
    asks: BookSide = field(default_factory=lambda: BookSide())
    """Prices ascending, so the best ask is the *first* price."""
    next_trade_id: int = 1
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=TRADE_HISTORY))
    session: Candle = field(default_factory=lambda: Candle(0, 0, 0, 0, 0))
    """Statistics since the start of the run (stands in for a venue's 24 h window)."""
    candles: dict[int, Candle] = field(default_factory=dict)
    last_price: int = 0
    update_id: int = 0
    """Book update id: 0 for the book as built, +1 on every step that changes the book."""
    steps: int = 0


@dataclass(slots=True)
class StepResult:
    """What one market step changed, ready to publish. Lists are fresh: a venue may reorder
    them in place."""

    update_id: int
    """The pair's book update id after the step."""
    bids: list[Level]
    """Full-book bid changes, best first: every changed price with its new qty (0 = removed)."""
    asks: list[Level]
    """Full-book ask changes, best first."""
    depth_diffs: list[tuple[int, list[Level], list[Level]]]
    """Per requested depth with a non-empty diff: ``(depth, bids, asks)``, levels unordered."""
    bids_top_changed: bool
    """Whether the top ten bids changed (a price or a quantity)."""
    asks_top_changed: bool
    """Whether the top ten asks changed."""
    bbo_changed: bool
    """Whether best bid or best ask changed (price or quantity)."""
    trades: list[Trade]

    @property
    def top_changed(self) -> bool:
        """Whether the top ten of either side changed."""
        return self.bids_top_changed or self.asks_top_changed

    @property
    def book_changed(self) -> bool:
        """Whether the step changed the book at all (and so advanced :attr:`update_id`)."""
        return bool(self.bids or self.asks)


class Market:
    """All pairs of a run. ``step`` advances one pair by one event."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        seed: int,
        book_levels: int = 300,
        warmup_steps: int = 100,
        now_ns: int = 0,
    ) -> None:
        """Build every pair's book and take ``warmup_steps`` steps on each.

        Pairs are keyed by :attr:`Instrument.name` (``BTC-USD``).

        Raises:
            ValueError: ``book_levels`` below ten (checksums cover ten levels a side).
        """
        if book_levels < TOP:
            raise ValueError(f"book_levels must be at least {TOP} (checksums cover {TOP})")
        self.book_levels = book_levels
        self.pairs: dict[str, PairState] = {}
        self._intervals: set[int] = set()
        for info in instruments:
            # A str seed is hashed with SHA-512 by random.seed, so it is stable across runs
            # and Python processes (unlike hash()). BASE/QUOTE is the key the first simulator
            # seeded with: a seed still gives the market it gave before the model was shared.
            rng = random.Random(f"{seed}:{info.base}/{info.quote}")
            state = PairState(info, rng, info.start_price)
            self._build(state)
            self.pairs[info.name] = state
            for _ in range(warmup_steps):
                self.step(info.name, (), now_ns)

    # ------------------------------------------------------------------ queries

    def state(self, name: str) -> PairState:
        """The state of pair ``name``. Raises ``KeyError`` for an unknown one."""
        return self.pairs[name]

    def update_id(self, name: str) -> int:
        """The book update id of pair ``name`` (what a snapshot taken now is at)."""
        return self.pairs[name].update_id

    def top(self, name: str, depth: int | None = None) -> tuple[list[Level], list[Level]]:
        """``(bids descending, asks ascending)`` of the top ``depth`` levels (all if None)."""
        st = self.pairs[name]
        bid_px = st.bids.prices if depth is None else st.bids.prices[-depth:]
        ask_px = st.asks.prices if depth is None else st.asks.prices[:depth]
        bids, asks = st.bids.levels, st.asks.levels
        return [(p, bids[p]) for p in reversed(bid_px)], [(p, asks[p]) for p in ask_px]

    def best(self, name: str) -> tuple[Level, Level]:
        """``((bid, bid_qty), (ask, ask_qty))``."""
        st = self.pairs[name]
        bid, ask = st.bids.prices[-1], st.asks.prices[0]
        return (bid, st.bids.levels[bid]), (ask, st.asks.levels[ask])

    def track_interval(self, interval: int) -> None:
        """Start keeping candles of ``interval`` minutes (from the next trade on).

        Which intervals a client may ask for is the venue's rule, not the market's.

        Raises:
            ValueError: an interval below one minute.
        """
        if interval < 1:
            raise ValueError(f"candle interval must be at least one minute, not {interval}")
        self._intervals.add(interval)

    def candle(self, name: str, interval: int, now_ns: int) -> Candle:
        """The running candle of ``interval``; an empty one at the last price if none yet."""
        st = self.pairs[name]
        candle = st.candles.get(interval)
        if candle is None:
            begin = now_ns - now_ns % (interval * NS_PER_MINUTE)
            last = st.last_price
            candle = Candle(begin, last, last, last, last)
        return candle

    # ------------------------------------------------------------------ stepping

    def step(self, name: str, depths: Iterable[int], now_ns: int) -> StepResult:
        """Advance pair ``name`` by one event; depth diffs are computed for each of ``depths``."""
        st = self.pairs[name]
        bids, asks = st.bids, st.asks
        bid_px, ask_px = bids.prices, asks.prices
        before = [
            (
                d,
                bid_px[-d] if len(bid_px) >= d else None,
                ask_px[d - 1] if len(ask_px) >= d else None,
            )
            for d in depths
        ]
        tenth_bid = bid_px[-TOP] if len(bid_px) >= TOP else None
        tenth_ask = ask_px[TOP - 1] if len(ask_px) >= TOP else None
        bbo_before = (bid_px[-1], bids.levels[bid_px[-1]], ask_px[0], asks.levels[ask_px[0]])
        changed_bids: set[int] = set()
        changed_asks: set[int] = set()
        trades: list[Trade] = []

        self._walk(st)
        roll = st.rng.random()
        if roll < _P_MODIFY:
            self._modify(st, changed_bids, changed_asks)
        elif roll < _P_ADD:
            self._add(st, changed_bids, changed_asks)
        elif roll < _P_DELETE:
            self._delete(st, changed_bids, changed_asks)
        else:
            self._trade(st, changed_bids, changed_asks, trades, now_ns)
        self._refill(st, changed_bids, changed_asks)
        st.steps += 1

        depth_diffs: list[tuple[int, list[Level], list[Level]]] = []
        for depth, bid_bound, ask_bound in before:
            bid_diff = _bid_diff(bids, changed_bids, bid_bound, depth)
            ask_diff = _ask_diff(asks, changed_asks, ask_bound, depth)
            if bid_diff or ask_diff:
                depth_diffs.append((depth, bid_diff, ask_diff))
        if changed_bids or changed_asks:
            st.update_id += 1
        bid_levels, ask_levels = bids.levels, asks.levels
        bid_changes = sorted([(p, bid_levels.get(p, 0)) for p in changed_bids], reverse=True)
        ask_changes = sorted([(p, ask_levels.get(p, 0)) for p in changed_asks])
        bbo_after = (bid_px[-1], bids.levels[bid_px[-1]], ask_px[0], asks.levels[ask_px[0]])
        return StepResult(
            st.update_id,
            bid_changes,
            ask_changes,
            depth_diffs,
            _bids_reach_top(changed_bids, tenth_bid, bid_px),
            _asks_reach_top(changed_asks, tenth_ask, ask_px),
            bbo_after != bbo_before,
            trades,
        )

    # ------------------------------------------------------------------ events

    def _build(self, st: PairState) -> None:
        rng, gap = st.rng, st.info.max_gap
        scratch: set[int] = set()
        st.bids.set(st.fair - rng.randint(1, gap), self._qty(st), scratch)
        st.asks.set(st.fair + rng.randint(1, gap), self._qty(st), scratch)
        self._refill(st, scratch, scratch)
        last = (st.bids.prices[-1] + st.asks.prices[0]) // 2
        st.last_price = last
        st.session = Candle(0, last, last, last, last)

    def _qty(self, st: PairState) -> int:
        """A level or fill size: mostly small, sometimes a round lot (trailing zeros)."""
        info, rng = st.info, st.rng
        span = info.qty_max - info.qty_min
        qty = info.qty_min + int(span * rng.random() ** 3)
        if rng.random() < 0.2 and info.qty_precision >= 2:
            lot = 10 ** (info.qty_precision - 2)
            qty = max(info.qty_min, qty - qty % lot)
        return qty

    def _walk(self, st: PairState) -> None:
        """Move the fair price: a random walk in ticks, kept near the book and positive."""
        rng, info = st.rng, st.info
        if rng.random() >= _P_WALK:
            return
        step = rng.randint(1, info.max_gap)
        if st.fair < info.start_price // 2:
            up = True
        elif st.fair > info.start_price * 2:
            up = False
        else:
            up = rng.random() < 0.5
        fair = st.fair + (step if up else -step)
        reach = 50 * info.max_gap
        st.fair = max(st.bids.prices[-1] - reach, min(st.asks.prices[0] + reach, fair), 1)

    def _modify(self, st: PairState, changed_bids: set[int], changed_asks: set[int]) -> None:
        idx = int(st.rng.random() ** 2 * _TOP_SPAN)
        if st.rng.random() < 0.5:
            prices = st.bids.prices
            st.bids.set(prices[-1 - min(idx, len(prices) - 1)], self._qty(st), changed_bids)
        else:
            prices = st.asks.prices
            st.asks.set(prices[min(idx, len(prices) - 1)], self._qty(st), changed_asks)

    def _add(self, st: PairState, changed_bids: set[int], changed_asks: set[int]) -> None:
        """A new order at a fresh price near the fair price, never crossing the book."""
        rng = st.rng
        offset = 1 + int(rng.expovariate(1.0) * 3 * st.info.max_gap)
        if rng.random() < 0.5:
            price = min(st.fair - offset, st.asks.prices[0] - 1)
            if price > 0:
                st.bids.set(price, self._qty(st), changed_bids)
        else:
            price = max(st.fair + offset, st.bids.prices[-1] + 1)
            st.asks.set(price, self._qty(st), changed_asks)

    def _delete(self, st: PairState, changed_bids: set[int], changed_asks: set[int]) -> None:
        idx = int(st.rng.random() ** 2 * _TOP_SPAN)
        if st.rng.random() < 0.5:
            if len(st.bids) > idx + 1:
                st.bids.set(st.bids.prices[-1 - idx], 0, changed_bids)
        elif len(st.asks) > idx + 1:
            st.asks.set(st.asks.prices[idx], 0, changed_asks)

    def _trade(
        self,
        st: PairState,
        changed_bids: set[int],
        changed_asks: set[int],
        trades: list[Trade],
        now_ns: int,
    ) -> None:
        """A taker order that sweeps one to three levels; the side leans toward the walk."""
        rng, info = st.rng, st.info
        drift = 2 * st.fair - (st.bids.prices[-1] + st.asks.prices[0])
        lean = max(-0.35, min(0.35, drift / (20 * info.max_gap)))
        buy = rng.random() < 0.5 + lean
        roll = rng.random()
        sweep = 1 if roll < 0.75 else 2 if roll < 0.95 else 3
        ord_type = "market" if sweep > 1 or rng.random() < 0.5 else "limit"
        side, changed = (st.asks, changed_asks) if buy else (st.bids, changed_bids)
        for i in range(sweep):
            if len(side) <= 1:
                break  # never empty a side: tickers and checksums need a best level
            price = side.prices[0] if buy else side.prices[-1]
            qty = side.levels[price]
            take = qty if i < sweep - 1 or rng.random() < 0.3 or qty == 1 else rng.randint(1, qty)
            side.set(price, qty - take, changed)
            trade = Trade("buy" if buy else "sell", price, take, ord_type, st.next_trade_id, now_ns)
            st.next_trade_id += 1
            trades.append(trade)
            self._record(st, trade)

    def _record(self, st: PairState, trade: Trade) -> None:
        st.trades.append(trade)
        st.last_price = trade.price
        st.session.add(trade.price, trade.qty)
        for interval in self._intervals:
            begin = trade.ts_ns - trade.ts_ns % (interval * NS_PER_MINUTE)
            candle = st.candles.get(interval)
            if candle is None or candle.begin_ns != begin:
                candle = Candle(begin, trade.price, trade.price, trade.price, trade.price)
                st.candles[interval] = candle
            candle.add(trade.price, trade.qty)

    def _refill(self, st: PairState, changed_bids: set[int], changed_asks: set[int]) -> None:
        """Keep each side near ``book_levels`` by adding or trimming at its far end."""
        rng, gap, target = st.rng, st.info.max_gap, self.book_levels
        bids, asks = st.bids, st.asks
        limit = target + _TRIM_SLACK
        if target <= len(bids.prices) <= limit and target <= len(asks.prices) <= limit:
            return
        while len(bids) < target:
            price = bids.prices[0] - rng.randint(1, gap)
            if price <= 0:
                break
            bids.set(price, self._qty(st), changed_bids)
        while len(asks) < target:
            asks.set(asks.prices[-1] + rng.randint(1, gap), self._qty(st), changed_asks)
        while len(bids) > target + _TRIM_SLACK:
            bids.set(bids.prices[0], 0, changed_bids)
        while len(asks) > target + _TRIM_SLACK:
            asks.set(asks.prices[-1], 0, changed_asks)


# ---------------------------------------------------------------------- helpers


def _bids_reach_top(changed: set[int], tenth_before: int | None, prices: list[int]) -> bool:
    """Whether a changed bid was or is among the top ten, i.e. the top ten changed.

    A changed price was visible before or is visible now iff it is at or above the lower of
    the two tenth-best bids; with a side of fewer than ten levels every price is visible. (A
    change is always real, see :meth:`BookSide.set`, so a visible one alters the top ten.)
    """
    if not changed:
        return False
    tenth_after = prices[-TOP] if len(prices) >= TOP else None
    if tenth_before is None or tenth_after is None:
        return True
    return max(changed) >= min(tenth_before, tenth_after)


def _asks_reach_top(changed: set[int], tenth_before: int | None, prices: list[int]) -> bool:
    """Mirror of :func:`_bids_reach_top` for asks (visible iff at or below the bound)."""
    if not changed:
        return False
    tenth_after = prices[TOP - 1] if len(prices) >= TOP else None
    if tenth_before is None or tenth_after is None:
        return True
    return min(changed) <= max(tenth_before, tenth_after)


def _bid_diff(
    side: BookSide, changed: set[int], bound_before: int | None, depth: int
) -> list[Level]:
    """The bid levels a depth-``depth`` subscriber must receive for this step.

    ``bound_before`` is the price of the depth-th best bid before the step (None when the side
    had fewer levels): a bid was visible before iff its price is at or above it.
    """
    levels, prices = side.levels, side.prices
    bound_after = prices[-depth] if len(prices) >= depth else None
    removed: list[Level] = []
    kept: list[Level] = []
    for price in changed:
        qty = levels.get(price)
        if qty is None:
            if bound_before is None or price >= bound_before:
                removed.append((price, 0))
        elif bound_after is None or price >= bound_after:
            kept.append((price, qty))
    if bound_before is not None and (bound_after is None or bound_after < bound_before):
        # The view reaches lower than before: unchanged levels in between enter it.
        low = 0 if bound_after is None else bisect_left(prices, bound_after)
        for price in prices[low : bisect_left(prices, bound_before)]:
            if price not in changed:
                kept.append((price, levels[price]))
    removed.extend(kept)
    return removed


def _ask_diff(
    side: BookSide, changed: set[int], bound_before: int | None, depth: int
) -> list[Level]:
    """Mirror of :func:`_bid_diff` for asks (visible iff at or below the bound)."""
    levels, prices = side.levels, side.prices
    bound_after = prices[depth - 1] if len(prices) >= depth else None
    removed: list[Level] = []
    kept: list[Level] = []
    for price in changed:
        qty = levels.get(price)
        if qty is None:
            if bound_before is None or price <= bound_before:
                removed.append((price, 0))
        elif bound_after is None or price <= bound_after:
            kept.append((price, qty))
    if bound_before is not None and (bound_after is None or bound_after > bound_before):
        high = len(prices) if bound_after is None else bisect_right(prices, bound_after)
        for price in prices[bisect_right(prices, bound_before) : high]:
            if price not in changed:
                kept.append((price, levels[price]))
    removed.extend(kept)
    return removed
