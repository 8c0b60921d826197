"""ccxt (a peer client, with its own CDP JWT code) places, reads and cancels an order on the
Coinbase simulator, changing only its REST URL and given a generated CDP key: the order
endpoints, their shapes and the simulator's token check hold for a client that is not ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tests.coinbase_trading import ACCOUNT, best, es256_key, running_sim
from tradegw.sim.coinbase import CoinbaseSimulator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def venue() -> AsyncIterator[tuple[CoinbaseSimulator, Any]]:
    key = es256_key()
    async with running_sim(key) as sim:
        exchange = ccxt.coinbase({"apiKey": key.name, "secret": key.secret})
        exchange.urls["api"]["rest"] = sim.rest_url
        try:
            yield sim, exchange
        finally:
            await exchange.close()


async def test_ccxt_places_fetches_and_cancels_a_limit_order(venue: Any) -> None:
    sim, exchange = venue
    await exchange.load_markets()
    bid, _ = best(sim, "BTC-USD")
    order = await exchange.create_order(
        "BTC/USD", "limit", "buy", 0.01, float(bid - 100), {"client_order_id": "ccxt-1"}
    )
    placed = sim.matching.order(ACCOUNT, client_order_id="ccxt-1")
    assert placed is not None
    assert order["id"] == placed.order_id
    fetched = await exchange.fetch_order(order["id"], "BTC/USD")
    assert fetched["status"] == "open"
    assert fetched["clientOrderId"] == "ccxt-1"
    assert fetched["amount"] == 0.01
    await exchange.cancel_order(order["id"], "BTC/USD")
    after = sim.matching.order(ACCOUNT, client_order_id="ccxt-1")
    assert after is not None
    assert after.status == "cancelled"
    assert sim.orders.refusals == {}
