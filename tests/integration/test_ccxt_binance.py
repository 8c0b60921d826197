"""A third-party client against the Binance simulator: ``ccxt.pro.binance`` with only its
URLs changed (and its market types narrowed to spot) loads the markets and keeps an order
book by Binance's procedure; at the book's ``nonce`` it equals the simulator's book at that
update id.

The override, as a user writes it::

    exchange = ccxt.pro.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
    exchange.urls["api"]["public"] = f"{sim.rest_url}/api/v3"
    exchange.urls["api"]["ws"]["spot"] = f"{sim.ws_url}/ws"

``fetchMarkets.types`` is the one option: ccxt loads spot, linear and inverse markets by
default, and the futures ones live on other hosts (``fapi``/``dapi``) that a spot venue does
not serve.
"""

from __future__ import annotations

import asyncio

import ccxt.pro
import pytest

from tradegw.sim.binance import BinanceSimConfig, BinanceSimulator

pytestmark = pytest.mark.timeout(40)


def _pointed_at(sim: BinanceSimulator) -> ccxt.pro.binance:
    exchange = ccxt.pro.binance({"options": {"fetchMarkets": {"types": ["spot"]}}})
    exchange.urls["api"]["public"] = f"{sim.rest_url}/api/v3"
    exchange.urls["api"]["ws"]["spot"] = f"{sim.ws_url}/ws"
    return exchange


async def test_ccxt_loads_markets_and_its_book_equals_the_simulators_at_its_nonce() -> None:
    config = BinanceSimConfig(pairs=["BTCUSDT", "ETHBTC", "MATICUSDT"], rate=300, seed=9)
    async with BinanceSimulator(config) as sim:
        exchange = _pointed_at(sim)
        try:
            markets = await exchange.load_markets()
            assert sorted(markets) == ["BTC/USDT", "ETH/BTC", "MATIC/USDT"]
            btc = markets["BTC/USDT"]
            assert (btc["id"], btc["spot"], btc["active"]) == ("BTCUSDT", True, True)
            assert btc["precision"]["price"] == 0.1
            assert markets["MATIC/USDT"]["precision"]["price"] == 0.0001

            nonces = []
            for _ in range(6):
                book = await asyncio.wait_for(exchange.watch_order_book("BTC/USDT"), 5)
                nonces.append(book["nonce"])
            assert nonces == sorted(nonces)
            assert nonces[-1] > nonces[0]

            # Freeze the market; the last merged depth event goes out within a tick.
            sim.pause()
            await asyncio.sleep(0.4)
            book = exchange.orderbooks["BTC/USDT"]
            assert book["nonce"] == sim.update_id("BTCUSDT")
            bids, asks = sim.book("BTCUSDT")
            assert [[float(p), float(q)] for p, q in bids] == [list(lv) for lv in book["bids"]]
            assert [[float(p), float(q)] for p, q in asks] == [list(lv) for lv in book["asks"]]
        finally:
            await exchange.close()
    stats = sim.stats()
    assert stats["ws_requests"] >= 1  # ccxt subscribed live, on /ws
    assert stats["faults"] == dict.fromkeys(stats["faults"], 0)
