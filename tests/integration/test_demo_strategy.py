"""The demo strategy trading on the three venue simulators (child processes, keys made for
the run): it places, cancels and gets fills on every venue, sends nothing off the tick or
lot, receives every ExecReport in order, stays within the account's balances, pauses while
the trading switch is off and leaves no order open when it stops; no generated key shows in
a log line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.unit._orders import assert_streams_gapless
from tradegw import front_door
from tradegw.config import GatewayConfig
from tradegw.config.models import DemoStrategyConfig
from tradegw.consumers.demo_strategy import TouchQuoter
from tradegw.front_door import open_gateway
from tradegw.gateway import Gateway
from tradegw.orders.sim_keys import SimTrading
from tradegw.orders.states import OrderState
from tradegw.schema import ExecReport

pytestmark = pytest.mark.timeout(120)

VENUES = ["binance", "coinbase", "kraken"]
FAST = {
    "enabled": True,
    "symbols": ["BTC-USD", "ETH-USD", "BTC-USDT", "ETH-USDT"],
    "interval_s": 0.1,
    "rest_s": 0.6,
    "cross_every": 3,
    "max_open_orders": 3,
}


def config(tmp_path: Path, venues: dict[str, Any], sims: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "venues": venues,
            "simulators": sims,
            "orders": {"ledger_path": str(tmp_path / "orders.sqlite")},
            "telemetry": {"dlq_path": None},
        }
    )


THREE_VENUES = {
    "binance": {"symbols": ["BTCUSDT", "ETHUSDT"], "channels": ["depth", "trade"]},
    "coinbase": {"symbols": ["BTC-USD", "ETH-USD"], "channels": ["level2", "market_trades"]},
    "kraken": {"symbols": ["BTC/USD", "ETH/USD"], "channels": ["book", "trade"]},
}


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Polls ``condition`` (nothing to wait on: it reads counters) until true."""
    try:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"no {what} within {within}s") from None


def assert_orders_fit_their_instruments(gw: Gateway) -> int:
    """Every order the ledger holds is on its instrument's tick and lot and above its
    minimums; returns how many there are."""
    orders = gw.orders(limit=None)
    for o in orders:
        inst = gw.order_entry.venue(o.venue).instrument(o.symbol)
        assert inst is not None, o
        assert o.price is not None
        price, qty = Decimal(o.price), Decimal(o.qty)
        assert price % inst.price_increment == 0, o
        assert qty % inst.qty_increment == 0, o
        assert qty >= inst.min_qty, o
        assert inst.min_notional is None or price * qty >= inst.min_notional, o
    return len(orders)


async def test_the_strategy_places_cancels_and_gets_fills_on_every_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[SimTrading] = []
    prepare = front_door.prepare_sim_trading

    def recording(*args: Any, **kwargs: Any) -> SimTrading:
        made.append(prepare(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(front_door, "prepare_sim_trading", recording)
    caplog.set_level(logging.DEBUG)
    sims = {v: {"pairs": 2, "rate": 300, "seed": 3} for v in VENUES}
    async with open_gateway(config(tmp_path, THREE_VENUES, sims), sim_trading=True) as gw:
        assert sorted(gw.order_entry.venue_names()) == VENUES
        watcher = gw.subscribe(types=["ExecReport"])
        strategy = TouchQuoter(gw, DemoStrategyConfig.model_validate(FAST), VENUES, seed=1)
        strategy.start()
        by_venue = strategy.stats.by_venue

        def busy_everywhere() -> bool:
            return all(
                by_venue.get(v, {}).get("submitted", 0) >= 6
                and by_venue.get(v, {}).get("fills", 0) >= 1
                and by_venue.get(v, {}).get("cancels", 0) >= 1
                for v in VENUES
            )

        await until(busy_everywhere, 60, f"orders, fills and cancels on {VENUES}")
        # The switch off: it sends nothing (no pile of trading_disabled rejections).
        gw.control({"type": "SetTradingMode", "mode": "disabled"})
        await asyncio.sleep(0.3)
        sent = gw.order_entry.stats.submits
        await asyncio.sleep(1.0)
        assert gw.order_entry.stats.submits == sent
        gw.control({"type": "SetTradingMode", "mode": "enabled"})
        await asyncio.sleep(0.5)
        await strategy.stop()
        # Every cancel it sent at stop is answered; nothing is left working.
        await until(lambda: not gw.orders(open_only=True), 10, "empty open-order list")
        n = assert_orders_fit_their_instruments(gw)
        stats = strategy.stats
        assert stats.submitted == n
        assert gw.order_entry.stats.invalid == 0  # nothing off tick, lot or minimum
        assert gw.order_entry.stats.refused_by_switch == 0
        assert stats.unaffordable == 0  # the simulators' accounts hold plenty
        # The venues may refuse a post-only order the market reached meanwhile; rarely.
        rejected = [o for o in gw.orders(limit=None) if o.state is OrderState.REJECTED]
        assert len(rejected) <= max(2, n // 10), [o.reason for o in rejected]
        post_only = ("post only", "immediately match and take")  # Coinbase, Kraken; Binance
        assert all(any(p in (o.reason or "").lower() for p in post_only) for o in rejected), [
            o.reason for o in rejected
        ]
        assert stats.out_of_order == 0
        assert stats.state_regressions == 0
        reports = []
        while (ev := watcher.get_nowait()) is not None:
            assert isinstance(ev, ExecReport)
            reports.append(ev)
        assert_streams_gapless(reports)
        assert {r.provider for r in reports} == set(VENUES)
        fills = sum(len(gw.fills(o.client_order_id)) for o in gw.orders(limit=None))
        assert stats.fills == fills
    # Keys were made for each simulator; none of them, key or secret, reached a log line.
    assert len(made) == 1
    assert sorted(made[0].credentials) == VENUES
    for creds in made[0].credentials.values():
        for secret in (creds.api_key.reveal(), creds.api_secret.reveal()):
            assert secret not in caplog.text
    assert "demo-" in caplog.text  # the decision ids are in the orders' log lines


async def test_the_strategy_never_sends_an_order_the_account_cannot_pay_for(
    tmp_path: Path,
) -> None:
    # 5 USD pays for one BTC order of 0.0001 at a time; no BTC to sell until one fills.
    sims = {
        "kraken": {
            "pairs": ["BTC/USD"],
            "rate": 300,
            "starting_balance": "0",
            "accounts": {"default": {"balances": {"USD": "5"}}},
        }
    }
    venues = {"kraken": {"symbols": ["BTC/USD"], "channels": ["book", "trade"]}}
    async with open_gateway(config(tmp_path, venues, sims), sim_trading=True) as gw:
        strategy = TouchQuoter(
            gw,
            DemoStrategyConfig.model_validate({**FAST, "cross_every": 2}),
            ["kraken"],
            balances={"kraken": ({"USD": Decimal("5")}, Decimal(0))},
            seed=2,
        )
        strategy.start()
        await until(
            lambda: strategy.stats.unaffordable >= 3 and strategy.stats.fills >= 1,
            30,
            "unaffordable decisions and a fill",
        )
        await strategy.stop()
        orders = gw.orders(limit=None)
        assert orders
        reasons = [o.reason or "" for o in orders if o.state is OrderState.REJECTED]
        assert not [r for r in reasons if "funds" in r.lower()], reasons
        assert_orders_fit_their_instruments(gw)
