"""The venue-neutral market: determinism, book invariants, and what a step reports."""

from __future__ import annotations

import pytest

from tradegw.sim.instruments import build_instruments
from tradegw.sim.market import BookSide, Market
from tradegw.sim.wire import Level

pytestmark = pytest.mark.timeout(20)

DEPTHS = (10, 25, 100, 500, 1000)


def _run(seed: int, steps: int, name: str = "BTC-USD") -> list[object]:
    market = Market(build_instruments(3), seed, book_levels=80, warmup_steps=20)
    out: list[object] = [market.top(name)]
    for _ in range(steps):
        result = market.step(name, (10,), 0)
        out.append((result.depth_diffs, result.bids, result.asks, result.update_id))
        out.append([t.trade_id for t in result.trades])
    return out


def test_same_seed_same_market_other_seed_other_market() -> None:
    assert _run(11, 300) == _run(11, 300)
    assert _run(11, 300) != _run(12, 300)


def test_pair_sequence_does_not_depend_on_other_pairs() -> None:
    alone = Market(build_instruments([("ETH", "USD")]), 5, book_levels=50, warmup_steps=0)
    both = build_instruments([("BTC", "USD"), ("ETH", "USD")])
    mixed = Market(both, 5, book_levels=50, warmup_steps=0)
    for _ in range(200):
        mixed.step("BTC-USD", (), 0)
        one, other = alone.step("ETH-USD", (10,), 0), mixed.step("ETH-USD", (10,), 0)
        assert (one.depth_diffs, one.bids, one.asks) == (other.depth_diffs, other.bids, other.asks)


def _apply(view: dict[int, int], levels: list[Level]) -> None:
    for price, qty in levels:
        if qty:
            view[price] = qty
        else:
            assert price in view, "a delete for a level the client never had"
            del view[price]


@pytest.mark.parametrize("name", ["BTC-USD", "XRP-USD", "SHIB-USD", "USDT-USD", "SYM18-USD"])
def test_depth_diffs_rebuild_every_depth_exactly(name: str) -> None:
    """Applying each step's whole diff, then truncating to D, gives the market's top D.

    The full book (60 levels a side) is shallower than depths 100-1000 and deeper than 10/25,
    so both regimes of the rules are exercised: levels pushed below D are never deleted,
    levels removed from a visible range are sent with qty 0, levels entering from below are
    sent.
    """
    market = Market(build_instruments(20), 3, book_levels=60, warmup_steps=0)
    views = {}
    for depth in DEPTHS:
        bids, asks = market.top(name, depth)
        views[depth] = (dict(bids), dict(asks))
    entered = pushed_out = 0
    for _ in range(1500):
        floor_before = market.top(name, 10)[0][-1][0]
        result = market.step(name, DEPTHS, 0)
        diffs = {depth: (bids, asks) for depth, bids, asks in result.depth_diffs}
        for depth in DEPTHS:
            view_bids, view_asks = views[depth]
            bids, asks = diffs.get(depth, ([], []))
            assert len({p for p, _ in bids}) == len(bids), "a price twice in one diff"
            _apply(view_bids, bids)
            _apply(view_asks, asks)
            for price in sorted(view_bids, reverse=True)[depth:]:
                del view_bids[price]
                pushed_out += 1
            for price in sorted(view_asks)[depth:]:
                del view_asks[price]
            top_bids, top_asks = market.top(name, depth)
            assert sorted(view_bids.items(), reverse=True) == top_bids
            assert sorted(view_asks.items()) == top_asks
        # A bid sent to depth 10 below the old 10th best bid entered the view from below.
        entered += any(q and p < floor_before for p, q in diffs.get(10, ([], []))[0])
        state = market.state(name)
        assert state.bids.prices[-1] < state.asks.prices[0], "crossed book"
    assert entered, "the run must exercise levels entering the view from below"
    assert pushed_out, "the run must exercise levels pushed below the view"


def test_full_changes_rebuild_the_whole_book_and_advance_the_update_id() -> None:
    """Binance/Coinbase style: every changed price with its new qty, 0 = removed."""
    market = Market(build_instruments(2), 7, book_levels=40, warmup_steps=10)
    bids, asks = (dict(side) for side in market.top("ETH-USD"))
    update_id = market.update_id("ETH-USD")
    for _ in range(2000):
        result = market.step("ETH-USD", (), 0)
        assert [p for p, _ in result.bids] == sorted({p for p, _ in result.bids}, reverse=True)
        assert [p for p, _ in result.asks] == sorted({p for p, _ in result.asks})
        for view, changes in ((bids, result.bids), (asks, result.asks)):
            for price, qty in changes:
                assert view.get(price, 0) != qty, "a change that changes nothing"
                if qty:
                    view[price] = qty
                else:
                    del view[price]
        update_id += result.book_changed
        assert result.update_id == update_id == market.update_id("ETH-USD")
        top_bids, top_asks = market.top("ETH-USD")
        assert sorted(bids.items(), reverse=True) == top_bids
        assert sorted(asks.items()) == top_asks
    assert update_id > 1500


def test_top_and_bbo_flags_are_exact() -> None:
    market = Market(build_instruments(1), 13, book_levels=30, warmup_steps=0)
    seen = {"bids": 0, "asks": 0, "neither": 0, "bbo": 0}
    for _ in range(3000):
        bids_before, asks_before = market.top("BTC-USD", 10)
        result = market.step("BTC-USD", (), 0)
        bids_after, asks_after = market.top("BTC-USD", 10)
        assert result.bids_top_changed == (bids_before != bids_after)
        assert result.asks_top_changed == (asks_before != asks_after)
        assert result.top_changed == (result.bids_top_changed or result.asks_top_changed)
        best_changed = (bids_before[0], asks_before[0]) != (bids_after[0], asks_after[0])
        assert result.bbo_changed == best_changed
        seen["bids"] += result.bids_top_changed
        seen["asks"] += result.asks_top_changed
        seen["neither"] += result.book_changed and not result.top_changed
        seen["bbo"] += result.bbo_changed
    assert all(count > 100 for count in seen.values()), seen


def test_trades_consume_liquidity_and_keep_stats() -> None:
    market = Market(build_instruments(1), 9, book_levels=40, warmup_steps=0)
    market.track_interval(1)
    trades = 0
    for _ in range(400):
        (bid, _), (ask, _) = market.best("BTC-USD")
        result = market.step("BTC-USD", (10,), 120_000_000_000)
        for trade in result.trades:
            trades += 1
            # A buy lifts asks, a sell hits bids: the first fill is at the best level.
            assert trade.price >= ask if trade.side == "buy" else trade.price <= bid
            assert trade.ord_type in ("limit", "market")
        if result.trades:
            assert result.book_changed
    state = market.state("BTC-USD")
    assert trades > 50
    assert state.session.trades == trades
    assert list(state.trades)[-1].trade_id == state.next_trade_id - 1
    assert len(state.trades) == 50
    candle = market.candle("BTC-USD", 1, 120_000_000_000)
    assert candle.trades == trades
    assert candle.begin_ns == 120_000_000_000
    assert candle.low <= candle.close <= candle.high
    # An interval without trades yet is an empty candle at the last price.
    empty = market.candle("BTC-USD", 5, 10 * 60_000_000_000 + 1)
    assert empty.trades == 0
    assert empty.open == state.last_price
    assert empty.begin_ns == 10 * 60_000_000_000
    with pytest.raises(ValueError, match="at least one minute"):
        market.track_interval(0)


def test_market_rejects_tiny_books_and_unknown_pairs() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        Market(build_instruments(1), 1, book_levels=5)
    market = Market(build_instruments(1), 1, book_levels=10, warmup_steps=0)
    with pytest.raises(KeyError):
        market.step("BTC/USD", (), 0)


def test_setting_a_level_to_what_it_is_is_no_change() -> None:
    side = BookSide()
    changed: set[int] = set()
    side.set(100, 5, changed)
    assert changed == {100}
    changed.clear()
    side.set(100, 5, changed)
    side.set(200, 0, changed)  # removing a level that is not there
    assert changed == set()
    assert (side.prices, side.levels) == ([100], {100: 5})
    side.set(100, 0, changed)
    assert changed == {100}
    assert (side.prices, side.levels) == ([], {})
