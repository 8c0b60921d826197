"""The simulators' venue-neutral matching: shadow taking, resting fills on the market's own
trades, post-only, IOC/FOK/market remainders, funds, fees, duplicate client ids per venue
policy, fault hooks, private-stream events, determinism."""

from __future__ import annotations

from typing import Any

import pytest

from tradegw.sim.accounts import UNIT, Accounts, scale, to_units, units_text
from tradegw.sim.faults import FaultInjector, FaultPlan, FaultSpec
from tradegw.sim.instruments import build_instruments
from tradegw.sim.market import Market, StepResult, Trade
from tradegw.sim.matching import (
    DuplicatePolicy,
    FeeSchedule,
    MatchingEngine,
    OrderEvent,
    RejectReason,
    SimOrderStatus,
)

pytestmark = pytest.mark.timeout(20)

BTC = "BTC-USD"  # price precision 1, qty precision 8, quote USD


def engine(
    policy: DuplicatePolicy = DuplicatePolicy.REJECT_WHILE_OPEN,
    *,
    balances: dict[str, str] | None = None,
    injector: FaultInjector | None = None,
    seed: int = 5,
) -> MatchingEngine:
    market = Market(build_instruments([("BTC", "USD"), ("ETH", "USD")]), seed, 60, 20)
    accounts = Accounts(
        {"alice": balances if balances is not None else {"USD": "10000000", "BTC": "1000"}},
        assets=["BTC", "ETH", "USD"],
        starting_balance="1000" if balances is None else None,
    )
    return MatchingEngine(
        market,
        accounts,
        duplicate_policy=policy,
        fees=FeeSchedule(maker_ppm=1_000, taker_ppm=2_000),
        injector=injector,
    )


def asks(eng: MatchingEngine) -> list[tuple[int, int]]:
    return eng.market.top(BTC, 5)[1]


def bids(eng: MatchingEngine) -> list[tuple[int, int]]:
    return eng.market.top(BTC, 5)[0]


def place(eng: MatchingEngine, **fields: Any) -> Any:
    args: dict[str, Any] = {
        "account": "alice",
        "symbol": BTC,
        "side": "buy",
        "type": "limit",
        "qty": 10_000,  # 0.0001 BTC
        "now_ns": 1,
    }
    args.update(fields)
    return eng.place(**args)


def step_with_trades(*trades: tuple[int, int]) -> StepResult:
    return StepResult(
        update_id=0,
        bids=[],
        asks=[],
        depth_diffs=[],
        bids_top_changed=False,
        asks_top_changed=False,
        bbo_changed=False,
        trades=[Trade("sell", p, q, "limit", 900 + i, 0) for i, (p, q) in enumerate(trades)],
    )


def test_a_marketable_limit_takes_levels_at_their_prices_without_moving_the_book() -> None:
    eng = engine()
    before = eng.market.top(BTC)
    (p1, q1), (p2, q2), (p3, _) = asks(eng)[:3]
    # Enough for the first two levels and more, limited at the second level's price.
    out = place(eng, qty=q1 + q2 + 7, price=p2, time_in_force="IOC")
    assert out.rejected is None
    fills = eng.fills(out.order.order_id)
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(p1, q1, "taker"), (p2, q2, "taker")]
    assert out.order.status is SimOrderStatus.EXPIRED
    assert out.order.reason == "ioc_remainder"
    assert out.order.filled == q1 + q2
    assert eng.market.top(BTC) == before, "the public book never moves"
    assert p3 > p2


def test_what_our_orders_took_is_not_taken_twice_until_the_market_changes_the_level() -> None:
    eng = engine()
    (p1, q1), (p2, _) = asks(eng)[:2]
    first = place(eng, qty=q1, price=p1, time_in_force="IOC")
    assert first.order.status is SimOrderStatus.FILLED
    second = place(eng, qty=q1, price=p2, time_in_force="IOC")
    assert [f.price for f in eng.fills(second.order.order_id)] == [p2]
    # Once the market rewrites the level (a step that changes it), it is whole again.
    changed = StepResult(0, [], [(p1, q1)], [], False, False, False, [])
    eng.on_market_step(BTC, changed, 2)
    third = place(eng, qty=q1, price=p1, time_in_force="IOC")
    assert third.order.status is SimOrderStatus.FILLED


def test_market_orders_sweep_and_expire_what_the_depth_cannot_fill() -> None:
    eng = engine()
    depth = sum(q for _, q in eng.market.top(BTC)[1])
    out = place(eng, type="market", qty=depth + 5, time_in_force="IOC")
    assert out.order.status is SimOrderStatus.EXPIRED
    assert out.order.reason == "market_remainder"
    assert out.order.filled == depth
    kinds = [e.kind for e in out.events]
    assert (kinds[0], kinds[-1]) == ("new", "expired")


def test_fok_fills_whole_or_expires_without_a_fill() -> None:
    eng = engine()
    (_, q1), (p2, q2) = asks(eng)[:2]
    none = place(eng, qty=q1 + q2 + 1, price=p2, time_in_force="FOK")
    assert none.order.status is SimOrderStatus.EXPIRED
    assert none.order.reason == "fok_unfilled"
    assert none.order.filled == 0
    assert eng.fills(none.order.order_id) == []
    whole = place(eng, qty=q1 + q2, price=p2, time_in_force="FOK")
    assert whole.order.status is SimOrderStatus.FILLED


def test_post_only_is_refused_when_it_would_take_and_rests_otherwise() -> None:
    eng = engine()
    best_ask = asks(eng)[0][0]
    refused = place(eng, price=best_ask, post_only=True)
    assert refused.rejected is RejectReason.POST_ONLY_WOULD_TAKE
    assert refused.order is None
    rests = place(eng, price=best_ask - 1, post_only=True)
    assert rests.order.status is SimOrderStatus.NEW
    assert eng.open_orders("alice") == [rests.order]


def test_resting_orders_fill_on_the_markets_trades_at_or_through_their_price() -> None:
    eng = engine()
    best_bid = bids(eng)[0][0]
    buy = place(eng, price=best_bid, qty=30_000).order
    sell = place(eng, side="sell", price=asks(eng)[0][0] + 10, qty=20_000).order
    got: list[OrderEvent] = []
    eng.subscribe("alice", got.append)
    # Above the buy: nothing; at it: 10k of 30k; through it: the rest, at the buy's price.
    eng.on_market_step(BTC, step_with_trades((best_bid + 1, 50_000)), 10)
    assert eng.fills(buy.order_id) == []
    eng.on_market_step(BTC, step_with_trades((best_bid, 10_000)), 11)
    eng.on_market_step(BTC, step_with_trades((best_bid - 3, 99_000)), 12)
    fills = eng.fills(buy.order_id)
    assert [(f.price, f.qty, f.liquidity, f.market_trade_id) for f in fills] == [
        (best_bid, 10_000, "maker", 900),
        (best_bid, 20_000, "maker", 900),
    ]
    assert [e.order.status for e in got] == [
        SimOrderStatus.PARTIALLY_FILLED,
        SimOrderStatus.FILLED,
    ]
    assert eng.open_orders("alice") == [eng.order("alice", order_id=sell.order_id)]


def test_resting_orders_share_a_trade_best_price_then_time() -> None:
    eng = engine()
    p = bids(eng)[0][0]
    first = place(eng, price=p - 1, qty=10_000).order
    better = place(eng, price=p, qty=10_000).order
    later = place(eng, price=p - 1, qty=10_000).order
    eng.on_market_step(BTC, step_with_trades((p - 2, 25_000)), 5)
    assert sum(f.qty for f in eng.fills(better.order_id)) == 10_000
    assert sum(f.qty for f in eng.fills(first.order_id)) == 10_000
    assert sum(f.qty for f in eng.fills(later.order_id)) == 5_000


def test_funds_are_reserved_spent_and_released_with_exact_fees() -> None:
    eng = engine(balances={"USD": "100000", "BTC": "0"})
    acct = eng.accounts.get("alice")
    best_bid = bids(eng)[0][0]
    rest = place(eng, price=best_bid, qty=100_000).order  # 0.001 BTC
    cost = scale(best_bid * 100_000, 9)
    reserve = cost + cost * 2_000 // 1_000_000
    assert acct.balance("USD").reserved == reserve
    assert eng.cancel("alice", client_order_id=None, order_id=rest.order_id, now_ns=2).order
    assert acct.balance("USD").reserved == 0
    assert acct.balance("USD").total == to_units("100000")
    # A taking buy pays price * qty plus the taker fee, and receives the base.
    (p1, q1) = asks(eng)[0]
    take = min(q1, 100_000)
    out = place(eng, price=p1, qty=take, time_in_force="IOC")
    fill = eng.fills(out.order.order_id)[0]
    paid = scale(p1 * take, 9)
    assert fill.fee == paid * 2_000 // 1_000_000
    assert fill.fee_asset == "USD"
    assert acct.balance("USD").total == to_units("100000") - paid - fill.fee
    assert acct.balance("USD").reserved == 0
    assert acct.balance("BTC").total == scale(take, 8)
    # Selling it back as a resting maker order charges the maker fee from the proceeds.
    sell = place(eng, side="sell", price=p1 + 50, qty=take).order
    assert acct.balance("BTC").reserved == scale(take, 8)
    eng.on_market_step(BTC, step_with_trades((p1 + 60, take)), 3)
    maker = eng.fills(sell.order_id)[0]
    proceeds = scale((p1 + 50) * take, 9)
    assert maker.fee == proceeds * 1_000 // 1_000_000
    assert acct.balance("BTC").total == 0
    assert acct.balance("USD").total == to_units("100000") - paid - fill.fee + proceeds - maker.fee


def test_an_order_that_cannot_reserve_is_rejected_and_reserves_nothing() -> None:
    eng = engine(balances={"USD": "1", "BTC": "0"})
    out = place(eng, price=bids(eng)[0][0], qty=100_000)
    assert out.rejected is RejectReason.INSUFFICIENT_FUNDS
    assert eng.accounts.get("alice").balance("USD").reserved == 0
    assert place(eng, side="sell", price=450_000).rejected is RejectReason.INSUFFICIENT_FUNDS
    assert eng.stats.by_reason == {"insufficient_funds": 2}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"account": "bob"}, RejectReason.UNKNOWN_ACCOUNT),
        ({"symbol": "NOPE-USD"}, RejectReason.UNKNOWN_SYMBOL),
        ({"qty": 0, "price": 10}, RejectReason.INVALID_QTY),
        ({"qty": 1, "price": 10}, RejectReason.INVALID_QTY),
        ({"price": None}, RejectReason.INVALID_PRICE),
        ({"type": "market", "price": 10, "time_in_force": "IOC"}, RejectReason.INVALID_PRICE),
        ({"type": "market"}, RejectReason.INVALID_ORDER),
        ({"price": 450_000, "post_only": True, "time_in_force": "IOC"}, RejectReason.INVALID_ORDER),
        ({"price": 1}, RejectReason.BELOW_MIN_NOTIONAL),
    ],
)
def test_invalid_orders_are_refused_with_a_reason(
    fields: dict[str, Any], reason: RejectReason
) -> None:
    out = place(engine(), **fields)
    assert out.rejected is reason
    assert out.order is None


def test_reject_while_open_then_reuse_counts_a_duplicate_order() -> None:
    eng = engine(DuplicatePolicy.REJECT_WHILE_OPEN)
    p = bids(eng)[0][0] - 5
    first = place(eng, price=p, client_order_id="c1")
    assert place(eng, price=p, client_order_id="c1").rejected is (
        RejectReason.DUPLICATE_CLIENT_ORDER_ID
    )
    assert eng.stats.duplicate_orders == 0
    eng.cancel("alice", client_order_id="c1", now_ns=3)
    again = place(eng, price=p, client_order_id="c1")
    assert again.order.order_id != first.order.order_id
    assert eng.stats.duplicate_orders == 1
    assert eng.order("alice", client_order_id="c1") == again.order


def test_return_existing_creates_nothing_and_answers_with_the_order() -> None:
    eng = engine(DuplicatePolicy.RETURN_EXISTING)
    p = bids(eng)[0][0] - 5
    first = place(eng, price=p, client_order_id="c1")
    eng.cancel("alice", client_order_id="c1", now_ns=3)
    same = place(eng, price=p + 1, qty=99_999, client_order_id="c1")
    assert same.existing
    assert same.order.order_id == first.order.order_id
    assert same.order.status is SimOrderStatus.CANCELLED
    assert eng.stats.placed == 1
    assert eng.stats.duplicate_orders == 0
    assert eng.stats.duplicates_refused == 1


def test_cancels_of_unknown_and_closed_orders_are_refused() -> None:
    eng = engine()
    assert eng.cancel("alice", order_id="999", now_ns=1).rejected is RejectReason.UNKNOWN_ORDER
    (p1, q1) = asks(eng)[0]
    done = place(eng, price=p1, qty=min(q1, 10_000), client_order_id="x")
    assert done.order.status is SimOrderStatus.FILLED
    refused = eng.cancel("alice", client_order_id="x", now_ns=2)
    assert refused.rejected is RejectReason.ORDER_CLOSED
    assert refused.order.status is SimOrderStatus.FILLED
    # Another account cannot see or cancel it.
    assert eng.cancel("bob", client_order_id="x", now_ns=2).rejected is RejectReason.UNKNOWN_ORDER
    assert eng.order("bob", order_id=done.order.order_id) is None


def test_subscribers_see_every_event_in_order_and_can_stop() -> None:
    eng = engine()
    got: list[OrderEvent] = []
    stop = eng.subscribe("alice", got.append)
    (p1, q1), (p2, _) = asks(eng)[:2]
    out = place(eng, price=p2, qty=q1 + 1, time_in_force="GTC")
    assert [e.kind for e in got] == ["new", "trade", "trade"]
    assert list(out.events) == got
    assert got[-1].order.status is SimOrderStatus.FILLED
    stop()
    place(eng, price=p1 - 100)
    assert len(got) == 3


def test_the_same_calls_on_the_same_seed_give_the_same_fills() -> None:
    def run() -> list[Any]:
        eng = engine(seed=9)
        out: list[Any] = []
        for i in range(30):
            result = eng.market.step(BTC, (), i)
            out += [(e.kind, e.fill) for e in eng.on_market_step(BTC, result, i)]
            p = bids(eng)[0][0] if i % 2 else asks(eng)[0][0]
            got = place(eng, price=p, qty=20_000, side="buy" if i % 3 else "sell", now_ns=i)
            out += [(e.kind, e.fill, e.order.status) for e in got.events]
        return out

    assert run() == run()


def test_fault_hooks_come_from_the_runs_plan_and_count_order_requests() -> None:
    plan = FaultPlan(
        faults=[
            FaultSpec(kind="order_5xx_after_accept", after_messages=[1]),
            FaultSpec(kind="order_ack_lost", rate=1.0, symbols=["ETH-USD"]),
        ]
    )
    injector = FaultInjector(plan, seed=1)
    eng = engine(injector=injector)
    assert not engine().fault("order_ack_lost")
    place(eng, price=10_000)
    assert not eng.fault("order_5xx_after_accept", BTC)  # after one order request: not yet
    place(eng, price=10_000)
    assert eng.fault("order_5xx_after_accept", BTC)
    assert not eng.fault("order_5xx_after_accept", BTC)  # one shot
    assert eng.fault("order_ack_lost", "ETH-USD")
    assert not eng.fault("order_ack_lost", BTC)
    assert injector.counts["order_5xx_after_accept"] == 1
    assert FaultPlan.scope("private_stream_drop") == "order"
    with pytest.raises(ValueError, match="unknown fault kind"):
        eng.fault("nonsense")


def test_accounts_hold_18_decimals_and_refuse_bad_balances() -> None:
    assert units_text(to_units("1.5")) == "1.5"
    assert units_text(0) == "0"
    assert to_units("1") == UNIT
    with pytest.raises(ValueError, match="negative"):
        Accounts({"a": {"USD": "-1"}})
    with pytest.raises(ValueError, match="cannot be held"):
        scale(1, 19)
    acct = Accounts({"a": {"USD": "2"}}, assets=["BTC", "USD"], starting_balance="5").get("a")
    assert acct.balance("USD").total == to_units("2")
    assert acct.balance("BTC").total == to_units("5")
    assert not acct.reserve("USD", to_units("3"))
    with pytest.raises(ValueError, match="release"):
        acct.release("USD", 1)


async def test_a_simulator_run_has_accounts_and_fills_resting_orders_as_its_market_trades() -> None:
    from tradegw.sim.kraken.config import KrakenSimConfig
    from tradegw.sim.kraken.server import KrakenSimulator

    sim = KrakenSimulator(
        KrakenSimConfig(pairs=["BTC/USD"], rate=0, seed=4, accounts={"me": {}}),
    )
    assert sim.accounts.names() == ["me"]
    assert sim.accounts.get("me").balance("USD").total == to_units("1000000")
    bid = sim.market.best(BTC)[0][0]
    order = sim.matching.place("me", BTC, "buy", "limit", 10_000, price=bid, now_ns=1).order
    assert order is not None
    for _ in range(2_000):
        sim.advance("BTC/USD")
        now = sim.matching.order("me", order_id=order.order_id)
        assert now is not None
        if not now.open:
            break
    assert now.status is SimOrderStatus.FILLED
    assert all(f.price == bid and f.liquidity == "maker" for f in sim.matching.fills(now.order_id))
