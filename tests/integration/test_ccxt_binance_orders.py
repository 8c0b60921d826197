"""A third-party client trading on the Binance simulator: ``ccxt.pro.binance`` with a key the
simulator knows and only its URLs changed places and cancels orders over the WebSocket API
(``order.place``/``order.cancel``) and over REST, watches its orders on the user data stream
(``userDataStream.subscribe.signature``) and lists its trades - every request signed by
ccxt's own HMAC code and checked by the simulator's. A wrong secret is refused with
``-1022``, which ccxt reads as an authentication error.

The override, as a user writes it (``fetchMargins`` off: margin pairs live on ``sapi``, which
a spot venue does not serve)::

    exchange = ccxt.pro.binance({"apiKey": KEY, "secret": SECRET, "options": {
        "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = f"{rest}/api/v3"
    exchange.urls["api"]["ws"]["spot"] = f"{ws}/ws"
    exchange.urls["api"]["ws"]["ws-api"]["spot"] = f"{ws}/ws-api/v3"
"""

from __future__ import annotations

import asyncio

import ccxt.pro
import pytest

from tests.integration.binance_orders_rig import API_KEY, API_SECRET, sim_config
from tradegw.sim.binance import BinanceSimulator

pytestmark = pytest.mark.timeout(40)


def _pointed_at(sim: BinanceSimulator, secret: str = API_SECRET) -> ccxt.pro.binance:
    exchange = ccxt.pro.binance(
        {
            "apiKey": API_KEY,
            "secret": secret,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    exchange.urls["api"]["public"] = f"{sim.rest_url}/api/v3"
    exchange.urls["api"]["private"] = f"{sim.rest_url}/api/v3"
    exchange.urls["api"]["ws"]["spot"] = f"{sim.ws_url}/ws"
    exchange.urls["api"]["ws"]["ws-api"]["spot"] = f"{sim.ws_url}/ws-api/v3"
    return exchange


async def test_ccxt_places_cancels_and_watches_orders_on_the_simulator() -> None:
    async with BinanceSimulator(sim_config()) as sim:
        exchange = _pointed_at(sim)
        try:
            await exchange.load_markets()
            bids, _ = sim.book("BTCUSDT", 5)
            below = float(bids[3][0])
            watcher = asyncio.ensure_future(exchange.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.3)  # its subscription is made before the first order

            placed = await exchange.create_order_ws("BTC/USDT", "limit", "buy", 0.001, below)
            assert placed["status"] == "open"
            watched = await asyncio.wait_for(watcher, 5)
            assert [(o["id"], o["status"]) for o in watched] == [(placed["id"], "open")]
            sim_order = sim.matching.order("default", order_id=placed["id"])
            assert sim_order is not None
            assert sim_order.client_order_id == placed["clientOrderId"]
            cancelled = await exchange.cancel_order_ws(placed["id"], "BTC/USDT")
            assert cancelled["status"] == "canceled"

            rest = await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, below)
            fetched = await exchange.fetch_order(rest["id"], "BTC/USDT")
            assert (fetched["status"], fetched["amount"]) == ("open", 0.001)
            assert (await exchange.cancel_order(rest["id"], "BTC/USDT"))["status"] == "canceled"

            market = await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
            assert (market["status"], market["filled"]) == ("closed", 0.001)
            trades = await exchange.fetch_my_trades("BTC/USDT")
            assert trades
            assert {t["order"] for t in trades} == {market["id"]}
            assert sum(t["amount"] for t in trades) == pytest.approx(0.001)
        finally:
            await exchange.close()
        assert sim.stats()["signed_refused"] == {}
        assert sim.matching.stats.placed == 3

        wrong = _pointed_at(sim, secret="not-" + API_SECRET)
        try:
            await wrong.load_markets()
            with pytest.raises(ccxt.AuthenticationError):
                await wrong.create_order("BTC/USDT", "limit", "buy", 0.001, below)
        finally:
            await wrong.close()
        assert sim.stats()["signed_refused"] == {-1022: 1}
