"""The synthetic market: determinism, book invariants, and Kraken's depth-D diff rules."""

from __future__ import annotations

import pytest

from tradegw.sim.kraken.market import OHLC_INTERVALS, Market
from tradegw.sim.kraken.pairs import build_assets, build_pairs, synthetic_pair
from tradegw.sim.kraken.wire import checksum

pytestmark = pytest.mark.timeout(20)

DEPTHS = (10, 25, 100, 500, 1000)


def _run(seed: int, steps: int, symbol: str = "BTC/USD") -> list[object]:
    market = Market(build_pairs(3), seed, book_levels=80, warmup_steps=20)
    out: list[object] = [market.top(symbol)]
    for _ in range(steps):
        result = market.step(symbol, (10,), 0)
        out.append((result.books, result.checksum, [t.trade_id for t in result.trades]))
    return out


def test_same_seed_same_market_other_seed_other_market() -> None:
    assert _run(11, 300) == _run(11, 300)
    assert _run(11, 300) != _run(12, 300)


def test_pair_sequence_does_not_depend_on_other_pairs() -> None:
    alone = Market(build_pairs(["ETH/USD"]), 5, book_levels=50, warmup_steps=0)
    mixed = Market(build_pairs(["BTC/USD", "ETH/USD"]), 5, book_levels=50, warmup_steps=0)
    for _ in range(200):
        mixed.step("BTC/USD", (), 0)
        assert alone.step("ETH/USD", (10,), 0).books == mixed.step("ETH/USD", (10,), 0).books


@pytest.mark.parametrize("symbol", ["BTC/USD", "XRP/USD", "SHIB/USD", "USDT/USD", "SYM17/USD"])
def test_diffs_rebuild_every_depth_exactly(symbol: str) -> None:
    """Applying each step's diff, then truncating to D, gives the market's top D every time.

    The full book (60 levels a side) is shallower than depths 100-1000 and deeper than 10/25,
    so both regimes of the rules are exercised: levels pushed below D are never deleted,
    levels removed from a visible range are sent with qty 0, levels entering from below are
    sent.
    """
    market = Market(build_pairs(20), 3, book_levels=60, warmup_steps=0)
    views = {}
    for depth in DEPTHS:
        bids, asks = market.top(symbol, depth)
        views[depth] = (dict(bids), dict(asks))
    entered = pushed_out = 0
    for _ in range(1500):
        before = {d: market.top(symbol, d) for d in (10,)}
        result = market.step(symbol, DEPTHS, 0)
        diffs = {depth: (bids, asks) for depth, bids, asks in result.books}
        for depth in DEPTHS:
            view_bids, view_asks = views[depth]
            bids, asks = diffs.get(depth, ([], []))
            for view, levels in ((view_bids, bids), (view_asks, asks)):
                for price, qty in levels:
                    if qty:
                        view[price] = qty
                    else:
                        assert price in view, "a delete for a level the client never had"
                        del view[price]
            for price in sorted(view_bids, reverse=True)[depth:]:
                del view_bids[price]
                pushed_out += 1
            for price in sorted(view_asks)[depth:]:
                del view_asks[price]
            top_bids, top_asks = market.top(symbol, depth)
            assert sorted(view_bids.items(), reverse=True) == top_bids
            assert sorted(view_asks.items()) == top_asks
        # A bid sent to depth 10 below the old 10th best bid entered the view from below.
        old_floor = before[10][0][-1][0]
        entered += any(q and p < old_floor for p, q in diffs.get(10, ([], []))[0])
        state = market.state(symbol)
        assert state.bids.prices[-1] < state.asks.prices[0], "crossed book"
        assert result.checksum == market.checksum(symbol)
        assert result.checksum == checksum(top_asks, top_bids)  # the last depth's top
    assert entered, "the run must exercise levels entering the view from below"
    assert pushed_out, "the run must exercise levels pushed below the view"


def test_trades_consume_liquidity_and_keep_stats() -> None:
    market = Market(build_pairs(1), 9, book_levels=40, warmup_steps=0)
    market.track_interval(1)
    trades = 0
    for _ in range(400):
        (bid, _), (ask, _) = market.best("BTC/USD")
        result = market.step("BTC/USD", (10,), 120_000_000_000)
        for trade in result.trades:
            trades += 1
            # A buy lifts asks, a sell hits bids: the first fill is at the best level.
            assert trade.price >= ask if trade.side == "buy" else trade.price <= bid
            assert trade.ord_type in ("limit", "market")
    state = market.state("BTC/USD")
    assert trades > 50
    assert state.session.trades == trades
    assert list(state.trades)[-1].trade_id == state.next_trade_id - 1
    assert len(state.trades) == 50
    candle = market.candle("BTC/USD", 1, 120_000_000_000)
    assert candle.trades == trades
    assert candle.begin_ns == 120_000_000_000
    assert candle.low <= candle.close <= candle.high
    # An interval without trades yet is an empty candle at the last price.
    empty = market.candle("BTC/USD", 5, 10 * 60_000_000_000 + 1)
    assert empty.trades == 0
    assert empty.open == state.last_price
    assert empty.begin_ns == 10 * 60_000_000_000
    with pytest.raises(ValueError, match="unsupported interval"):
        market.track_interval(2)
    assert 21600 in OHLC_INTERVALS


def test_pairs_table_then_synthetic() -> None:
    pairs = build_pairs(24)
    assert [p.symbol for p in pairs[:3]] == ["BTC/USD", "ETH/USD", "SOL/USD"]
    btc = pairs[0]
    assert (btc.rest_name, btc.altname, btc.price_precision, btc.qty_precision) == (
        "XXBTZUSD",
        "XBTUSD",
        1,
        8,
    )
    synthetic = [p for p in pairs if p.symbol.startswith("SYM")]
    assert synthetic
    assert synthetic[0].symbol == "SYM16/USD"
    assert len({(p.price_precision, p.qty_precision) for p in synthetic}) >= 5
    assert len({p.symbol for p in pairs}) == 24
    named = build_pairs(["MATIC/USD", "FOO/EUR"])
    assert named[0].price_precision == 4
    assert named[1].rest_name == "FOOEUR"
    assert named[1].rest_quote == "ZEUR"
    assets = {a.name: a for a in build_assets(named)}
    assert set(assets) == {"MATIC", "USD", "FOO", "EUR"}
    assert assets["USD"].rest_name == "ZUSD"


@pytest.mark.parametrize("spec", [0, [], ["BTC/USD", "BTC/USD"], ["NOSLASH"]])
def test_pairs_reject_bad_specs(spec: int | list[str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages
        build_pairs(spec)


def test_market_rejects_tiny_books() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        Market(build_pairs(1), 1, book_levels=5)
    assert synthetic_pair("ABC/USD", 3).price_precision == 4
