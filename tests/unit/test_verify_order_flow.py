"""The order pieces the 1,000-order tests and ``tradegw verify`` share: quotes from an
order instrument, the order mix (its kinds, its sizes against the venue's minimums, the
same orders for the same seed) and the resting order the switch check uses."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from tradegw.orders.instrument import OrderInstrument, check_order
from tradegw.verify.order_flow import OrderMix, Quote, plain, resting

pytestmark = pytest.mark.timeout(10)

BTC = OrderInstrument.of(
    "BTC-USDT",
    "BTCUSDT",
    price_increment="0.1",
    qty_increment="0.00001",
    min_qty="0.00001",
    min_notional="5",
)
QUOTE = Quote.of(BTC, "45000.1", "45000.3")


def test_a_quote_takes_the_instruments_tick_and_lot() -> None:
    want = Quote(
        Decimal("45000.1"), Decimal("45000.3"), Decimal("0.1"), Decimal("0.00001"), Decimal(5)
    )
    assert want == QUOTE
    # A minimum that is no multiple of the increment is rounded up to one.
    odd = OrderInstrument.of(
        "X-USD", "XUSD", price_increment="1", qty_increment="0.5", min_qty="0.7"
    )
    assert Quote.of(odd, "10", "11").lot == Decimal("1.0")


def _mix(seed: int, n: int = 400, mix: OrderMix | None = None) -> list[dict[str, object]]:
    rng = random.Random(seed)
    mix = mix or OrderMix()
    return [
        mix.request(rng, "binance", ["BTC-USDT"], lambda _s: QUOTE, f"c{i}").model_dump()
        for i in range(n)
    ]


def test_the_mix_has_every_kind_and_passes_the_venues_checks() -> None:
    orders = _mix(1)
    assert orders == _mix(1)  # the same seed, the same orders
    assert orders != _mix(2)
    kinds = Counter((o["type"], o["time_in_force"], o["post_only"]) for o in orders)
    assert {k[1] for k in kinds if k[0] == "market"} == {"IOC", "FOK"}
    assert {k[1] for k in kinds if k[0] == "limit"} == {"GTC", "IOC", "FOK"}
    assert any(k[2] for k in kinds)
    assert {o["side"] for o in orders} == {"buy", "sell"}
    rng = random.Random(1)
    for i in range(400):
        req = OrderMix().request(rng, "binance", ["BTC-USDT"], lambda _s: QUOTE, f"c{i}")
        # Sized up to the minimum notional: nothing the entry would refuse before sending.
        assert check_order(req, BTC) is None, req


def test_one_market_time_in_force_draws_nothing() -> None:
    ioc = _mix(3, mix=OrderMix(market_tifs=("IOC",)))
    assert {o["time_in_force"] for o in ioc if o["type"] == "market"} == {"IOC"}


def test_a_resting_order_sits_ten_ticks_off_the_touch() -> None:
    buy = resting(QUOTE, "binance", "BTC-USDT", "buy", "r1")
    sell = resting(QUOTE, "binance", "BTC-USDT", "sell", "r2")
    assert (buy.price, sell.price) == ("44999.1", "45001.3")
    assert buy.type == "limit"
    assert buy.time_in_force == "GTC"
    assert check_order(buy, BTC) is None
    assert Decimal(buy.qty) * Decimal(buy.price or 0) >= 5


def test_plain_decimal_text() -> None:
    assert plain(Decimal("45000.10")) == "45000.1"
    assert plain(Decimal("1E+2")) == "100"
    assert plain(Decimal("0.000020")) == "0.00002"
