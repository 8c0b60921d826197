"""ccxt (a peer client, signing with its own code) places and cancels orders on the Kraken
simulator, changing only its URLs: REST ``AddOrder``/``OpenOrders``/``QueryOrders``/
``CancelOrder`` signed with API-Sign, and WS v2 ``add_order``/``cancel_order`` with a token
from ``GetWebSocketsToken`` plus the ``executions`` channel (``watch_orders``)::

    exchange = ccxt.pro.kraken({"apiKey": key, "secret": secret})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = sim.rest_url
    exchange.urls["api"]["ws"]["publicV2"] = sim.ws_url
    exchange.urls["api"]["ws"]["privateV2"] = sim.auth_ws_url
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.pro as ccxtpro
import pytest

from tests.integration.kraken_trading import API_KEY, API_SECRET, trading_sim
from tradegw.sim.kraken import KrakenSimulator

pytestmark = pytest.mark.timeout(30)


def client(sim: KrakenSimulator, secret: str = API_SECRET) -> Any:
    # No client-side throttle: the simulator has no rate limit to respect.
    exchange = ccxtpro.kraken({"apiKey": API_KEY, "secret": secret, "enableRateLimit": False})
    exchange.urls["api"]["public"] = sim.rest_url
    exchange.urls["api"]["private"] = sim.rest_url
    exchange.urls["api"]["ws"]["publicV2"] = sim.ws_url
    exchange.urls["api"]["ws"]["privateV2"] = sim.auth_ws_url
    return exchange


@pytest.fixture
async def venue() -> AsyncIterator[tuple[KrakenSimulator, Any]]:
    async with trading_sim() as sim:
        exchange = client(sim)
        try:
            yield sim, exchange
        finally:
            await exchange.close()


def below_market(sim: KrakenSimulator) -> float:
    bids, _ = sim.book("BTC/USD", 1)
    return float(Decimal(bids[0][0]) - 100)


async def test_ccxt_places_lists_and_cancels_over_rest(
    venue: tuple[KrakenSimulator, Any],
) -> None:
    sim, exchange = venue
    cid = uuid.uuid4().hex
    order = await exchange.create_order(
        "BTC/USD", "limit", "buy", 0.01, below_market(sim), {"clientOrderId": cid}
    )
    sim_order = sim.matching.order("default", client_order_id=cid)
    assert sim_order is not None
    assert order["id"] == sim_order.order_id
    opened = await exchange.fetch_open_orders()
    assert [(o["id"], o["clientOrderId"], o["status"]) for o in opened] == [
        (sim_order.order_id, cid, "open")
    ]
    assert opened[0]["amount"] == 0.01
    await exchange.cancel_order(order["id"])
    fetched = await exchange.fetch_order(order["id"])
    assert fetched["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.cancel_order(order["id"])
    # Ccxt's nonces (milliseconds, incrementing) and signatures all passed.
    assert sim.trading.auth.refused == {}
    assert sim.trading.auth.accepted >= 5


async def test_ccxt_places_and_cancels_over_websocket_and_watches_executions(
    venue: tuple[KrakenSimulator, Any],
) -> None:
    sim, exchange = venue
    await exchange.load_markets()
    watcher = asyncio.ensure_future(exchange.watch_orders())
    await asyncio.sleep(0.3)  # the executions subscription is in place
    cid = uuid.uuid4().hex
    order = await exchange.create_order_ws(
        "BTC/USD", "limit", "buy", 0.01, below_market(sim), {"clientOrderId": cid}
    )
    sim_order = sim.matching.order("default", client_order_id=cid)
    assert sim_order is not None
    assert order["id"] == sim_order.order_id
    seen = await asyncio.wait_for(watcher, 5)
    assert order["id"] in {o["id"] for o in seen}
    # A watch returns updates that arrive after it was called: start it before the cancel.
    watching = asyncio.ensure_future(exchange.watch_orders())
    await asyncio.sleep(0)
    await exchange.cancel_order_ws(order["id"])
    updates = await asyncio.wait_for(watching, 5)
    assert [(o["id"], o["status"]) for o in updates] == [(order["id"], "canceled")]
    cancelled = sim.matching.order("default", client_order_id=cid)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    assert len(sim.trading.tokens.issued) == 1


async def test_ccxt_with_the_wrong_secret_is_refused() -> None:
    async with trading_sim() as sim:
        wrong = API_SECRET[::-1].replace("=", "A") + "=="
        exchange = client(sim, secret=wrong)
        try:
            with pytest.raises(ccxt.BaseError, match="EAPI:Invalid signature"):
                await exchange.create_order("BTC/USD", "limit", "buy", 0.01, below_market(sim))
        finally:
            await exchange.close()
        assert sim.matching.stats.placed == 0
